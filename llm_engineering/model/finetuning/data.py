"""Training rows from the domain's datasets, in the one prompt layout of `domain/prompts.py`.

SFT rows are TRL prompt-completion pairs (`prompt` = `format_instruction_prompt(instruction)`,
`completion` = answer + EOS), so the loss falls on the answer only; DPO rows are `prompt, chosen,
rejected` with EOS closing both answers. Under a budget, samples are drawn in a seeded order and those
that do not fit the token budget are skipped, never cut mid-answer.

`datasets` is imported inside the functions that build a `Dataset`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from loguru import logger

from llm_engineering.domain.datasets import (
    DatasetType,
    InstructDatasetSample,
    PreferenceDatasetSample,
    TrainTestSplit,
)
from llm_engineering.domain.prompts import format_instruction_prompt, format_rag_prompt
from llm_engineering.model.errors import TrainingDataError

if TYPE_CHECKING:
    from datasets import Dataset

SplitName = Literal["train", "test"]


class Tokenizer(Protocol):
    """What selection needs from a tokenizer: its EOS token and `tokenizer(text)["input_ids"]`."""

    eos_token: str

    def __call__(self, text: str, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Selection:
    """Samples chosen under a budget, in training order, with what was left out and why."""

    samples: list[Any]
    available: int
    too_long: int
    lengths: list[int] = field(default_factory=list)  # tokens per selected sample (longest side for DPO)

    @property
    def tokens(self) -> int:
        return sum(self.lengths)


def training_prompt(sample: InstructDatasetSample | PreferenceDatasetSample) -> str:
    """The prompt a sample trains on: `/rag`'s layout with its numbered passages for a retrieval-aware
    sample (`application/datasets/raft.py`), else the plain instruction layout."""
    if sample.passages is not None:
        return format_rag_prompt(sample.instruction, sample.passages)
    return format_instruction_prompt(sample.instruction)


def instruct_row(sample: InstructDatasetSample, eos_token: str) -> dict[str, str]:
    """One SFT prompt-completion row."""
    return {"prompt": training_prompt(sample), "completion": sample.answer + eos_token}


def preference_row(sample: PreferenceDatasetSample, eos_token: str) -> dict[str, str]:
    """One DPO row."""
    return {
        "prompt": training_prompt(sample),
        "chosen": sample.chosen + eos_token,
        "rejected": sample.rejected + eos_token,
    }


def select_samples(
    split: TrainTestSplit,
    name: SplitName,
    expected_type: DatasetType,
    measure: Callable[[Any], int | None],
    max_samples: int | None,
    seed: int,
) -> Selection:
    """Up to `max_samples` samples of split `name` that fit the budget (`measure(sample)` gives the sample's
    token count, or None when it does not fit), in a seeded shuffled order: deterministic for a given seed
    and split. Raises TrainingDataError for the wrong dataset type, an empty split, or when nothing fits."""
    if DatasetType(split.dataset_type) != expected_type:
        raise TrainingDataError(
            f"This stage needs a dataset of type {expected_type}, got {split.dataset_type} ({split.artifact_name})."
        )
    samples = split.samples(name)
    if not samples:
        raise TrainingDataError(f"The {name} split of {split.artifact_name} is empty: nothing to train or evaluate on.")
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    chosen: list[Any] = []
    lengths: list[int] = []
    too_long = 0
    for index in order:
        if max_samples is not None and len(chosen) >= max_samples:
            break
        length = measure(samples[index])
        if length is None:
            too_long += 1
            continue
        chosen.append(samples[index])
        lengths.append(length)
    if not chosen:
        raise TrainingDataError(
            f"None of the {len(samples)} {name} samples of {split.artifact_name} fits the token budget; raise "
            "max_length (and max_prompt_length) or shorten the samples."
        )
    if too_long:
        logger.info("{} of the {} samples examined were skipped: over the token budget", too_long, name)
    return Selection(samples=chosen, available=len(samples), too_long=too_long, lengths=lengths)


def sft_selection(
    split: TrainTestSplit,
    tokenizer: Tokenizer,
    name: SplitName = "train",
    max_length: int | None = None,
    max_samples: int | None = None,
    seed: int = 0,
) -> Selection:
    """Instruct samples whose prompt + answer + EOS (with the tokenizer's special tokens) fit `max_length`."""

    def measure(sample: InstructDatasetSample) -> int | None:
        row = instruct_row(sample, tokenizer.eos_token)
        length = _count(tokenizer, row["prompt"] + row["completion"])
        return None if max_length is not None and length > max_length else length

    return select_samples(split, name, DatasetType.INSTRUCTION, measure, max_samples, seed)


def dpo_selection(
    split: TrainTestSplit,
    tokenizer: Tokenizer,
    name: SplitName = "train",
    max_length: int | None = None,
    max_prompt_length: int | None = None,
    max_samples: int | None = None,
    seed: int = 0,
) -> Selection:
    """Preference samples whose prompt fits `max_prompt_length` and whose prompt + longer answer + EOS fits
    `max_length`."""

    def measure(sample: PreferenceDatasetSample) -> int | None:
        row = preference_row(sample, tokenizer.eos_token)
        if max_prompt_length is not None and _count(tokenizer, row["prompt"]) > max_prompt_length:
            return None
        length = max(_count(tokenizer, row["prompt"] + row[key]) for key in ("chosen", "rejected"))
        return None if max_length is not None and length > max_length else length

    return select_samples(split, name, DatasetType.PREFERENCE, measure, max_samples, seed)


def sft_dataset(
    split: TrainTestSplit,
    tokenizer: Tokenizer,
    name: SplitName = "train",
    max_length: int | None = None,
    max_samples: int | None = None,
    seed: int = 0,
) -> Dataset:
    """A prompt-completion `Dataset` (columns `prompt`, `completion`) for TRL's SFTTrainer."""
    selection = sft_selection(split, tokenizer, name, max_length, max_samples, seed)
    return _to_dataset([instruct_row(sample, tokenizer.eos_token) for sample in selection.samples])


def dpo_dataset(
    split: TrainTestSplit,
    tokenizer: Tokenizer,
    name: SplitName = "train",
    max_length: int | None = None,
    max_prompt_length: int | None = None,
    max_samples: int | None = None,
    seed: int = 0,
) -> Dataset:
    """A preference `Dataset` (columns `prompt`, `chosen`, `rejected`) for TRL's DPOTrainer."""
    selection = dpo_selection(split, tokenizer, name, max_length, max_prompt_length, max_samples, seed)
    return _to_dataset([preference_row(sample, tokenizer.eos_token) for sample in selection.samples])


def _count(tokenizer: Tokenizer, text: str) -> int:
    # Special tokens included (BOS), as the trainers tokenize.
    return len(tokenizer(text)["input_ids"])


def _to_dataset(rows: Sequence[dict[str, str]]) -> Dataset:
    from datasets import Dataset

    return Dataset.from_list(list(rows))
