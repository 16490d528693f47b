"""Training rows: the one prompt layout, EOS on answers, seeded selection under a token budget, clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from llm_engineering.domain.datasets import (
    CategoryDataset,
    DatasetType,
    InstructDatasetSample,
    PreferenceDatasetSample,
    TrainTestSplit,
)
from llm_engineering.domain.prompts import format_instruction_prompt
from llm_engineering.domain.types import DataCategory
from llm_engineering.model.errors import TrainingDataError
from llm_engineering.model.finetuning.data import (
    dpo_dataset,
    dpo_selection,
    sft_dataset,
    sft_selection,
)


class WordTokenizer:
    """One token per whitespace-separated word, plus a BOS token, like a real tokenizer's special tokens."""

    eos_token = "</s>"

    def __call__(self, text: str, **kwargs: Any) -> dict[str, list[int]]:
        return {"input_ids": [1] + [2] * len(text.replace(self.eos_token, f" {self.eos_token}").split())}


TOKENIZER = WordTokenizer()
PROMPT_TOKENS = len(TOKENIZER(format_instruction_prompt("Write about x."))["input_ids"])


def split_of(kind: DatasetType, train: list, test: list | None = None) -> TrainTestSplit:
    def part(samples: list) -> dict:
        return {
            DataCategory.ARTICLES: CategoryDataset(dataset_type=kind, category=DataCategory.ARTICLES, samples=samples)
        }

    return TrainTestSplit(dataset_type=kind, train=part(train), test=part(test or []))


def instruct(n: int, words: int = 5) -> list[InstructDatasetSample]:
    return [InstructDatasetSample(instruction=f"Write about {i}.", answer=" ".join(["word"] * words)) for i in range(n)]


def preference(n: int) -> list[PreferenceDatasetSample]:
    return [
        PreferenceDatasetSample(instruction=f"Write about {i}.", chosen=f"Mine {i} here.", rejected=f"Generic {i}.")
        for i in range(n)
    ]


def test_sft_rows_use_the_served_prompt_layout_and_end_answers_with_eos():
    sample = InstructDatasetSample(instruction="Explain rerankers.", answer="They reorder hits.")
    dataset = sft_dataset(split_of(DatasetType.INSTRUCTION, [sample]), TOKENIZER)

    assert dataset.column_names == ["prompt", "completion"]
    assert dataset[0]["prompt"] == format_instruction_prompt("Explain rerankers.")
    assert dataset[0]["completion"] == "They reorder hits.</s>"
    # prompt + completion is exactly one training sample of the shared template
    assert (
        dataset[0]["prompt"] + dataset[0]["completion"]
        == format_instruction_prompt("Explain rerankers.", response="They reorder hits.") + TOKENIZER.eos_token
    )


def test_dpo_rows_format_the_prompt_and_close_both_answers():
    sample = PreferenceDatasetSample(instruction="Explain rerankers.", chosen="Mine.", rejected="Generic.")
    dataset = dpo_dataset(split_of(DatasetType.PREFERENCE, [sample]), TOKENIZER)

    assert dataset.column_names == ["prompt", "chosen", "rejected"]
    assert dataset[0] == {
        "prompt": format_instruction_prompt("Explain rerankers."),
        "chosen": "Mine.</s>",
        "rejected": "Generic.</s>",
    }


def test_selection_is_seeded_deterministic_and_capped():
    split = split_of(DatasetType.INSTRUCTION, instruct(40))

    first = sft_selection(split, TOKENIZER, max_samples=10, seed=3)
    again = sft_selection(split, TOKENIZER, max_samples=10, seed=3)
    other = sft_selection(split, TOKENIZER, max_samples=10, seed=4)

    assert [s.instruction for s in first.samples] == [s.instruction for s in again.samples]
    assert [s.instruction for s in first.samples] != [s.instruction for s in other.samples]
    assert len(first.samples) == 10 and first.available == 40
    assert sft_selection(split, TOKENIZER).available == len(sft_selection(split, TOKENIZER).samples) == 40


def test_selection_skips_samples_over_the_budget_instead_of_truncating():
    short, long = instruct(6, words=3), instruct(6, words=50)
    split = split_of(DatasetType.INSTRUCTION, short + long)
    budget = PROMPT_TOKENS + 3 + 1  # prompt, three words, EOS

    selection = sft_selection(split, TOKENIZER, max_length=budget, max_samples=5)

    assert len(selection.samples) == 5
    assert all(sample.answer.count("word") == 3 for sample in selection.samples)
    assert max(selection.lengths) <= budget and selection.tokens == sum(selection.lengths)
    assert selection.too_long >= 1


def test_dpo_selection_bounds_the_prompt_and_the_longer_answer():
    long_pair = PreferenceDatasetSample(instruction="Write about y.", chosen="ok", rejected=" ".join(["long"] * 40))
    samples = [*preference(4), long_pair]
    split = split_of(DatasetType.PREFERENCE, samples)
    fits = dpo_selection(split, TOKENIZER, max_length=PROMPT_TOKENS + 5)

    assert len(fits.samples) == 4  # the pair with the long rejected answer is left out
    with pytest.raises(TrainingDataError, match="budget"):
        dpo_selection(split, TOKENIZER, max_length=512, max_prompt_length=PROMPT_TOKENS - 1)


def test_errors_for_wrong_type_empty_split_and_nothing_fitting():
    instruct_split = split_of(DatasetType.INSTRUCTION, instruct(3))
    with pytest.raises(TrainingDataError, match="needs a dataset of type preference, got instruction"):
        dpo_dataset(instruct_split, TOKENIZER)
    with pytest.raises(TrainingDataError, match="needs a dataset of type instruction"):
        sft_dataset(split_of(DatasetType.PREFERENCE, preference(2)), TOKENIZER)
    with pytest.raises(TrainingDataError, match=r"test split .* is empty"):
        sft_dataset(instruct_split, TOKENIZER, name="test")
    with pytest.raises(TrainingDataError, match="None of the 3 train samples"):
        sft_dataset(instruct_split, TOKENIZER, max_length=PROMPT_TOKENS)
