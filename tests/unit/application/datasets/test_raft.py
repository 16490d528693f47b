"""Retrieval-aware samples: the gold passage among distractors in `/rag`'s layout, the answer cited, a share
without the gold passage answered "not covered", long text cut at sentence boundaries, and derived
preference pairs whose rejected side fails the answer guard."""

from __future__ import annotations

import re

import pytest

from llm_engineering.application.datasets.raft import (
    NOT_COVERED_ANSWERS,
    Passage,
    RaftSettings,
    RetrievalAwareSamples,
    answer_window,
    cite,
    cut_at_sentence,
    guard_rejected_reply,
)
from llm_engineering.application.rag.answering import AnswerGuard
from llm_engineering.domain.datasets import (
    CategoryDataset,
    DataCategory,
    DatasetType,
    InstructDatasetSample,
    PreferenceDatasetSample,
    TrainTestSplit,
)
from llm_engineering.domain.prompts import format_rag_prompt, rag_turns
from llm_engineering.model.finetuning.data import instruct_row, preference_row

GOLD = (
    "Qdrant stores vectors with payloads. A feature pipeline writes cleaned chunks and their embeddings into "
    "Qdrant, so the inference pipeline can retrieve them by similarity. Keeping the store in sync with new "
    "posts is a streaming job."
)
ANSWER = (
    "A feature pipeline writes cleaned chunks and their embeddings into Qdrant. The inference pipeline then "
    "retrieves them by similarity."
)
DISTRACTORS = [
    Passage("Beam search keeps the best sequences at every step of decoding. Greedy search keeps one.", "doc-b"),
    Passage("LoRA trains small adapter matrices beside frozen weights. It saves memory on a GPU.", "doc-c"),
    Passage("DPO prefers chosen answers to rejected ones without a reward model.", "doc-d"),
    Passage("Graph neural networks pass messages along edges between nodes.", "doc-e"),
]


class FakeStore:
    """Search by word overlap over the gold document and the distractors."""

    def __init__(self) -> None:
        self.passages = [Passage(GOLD, "doc-a"), *DISTRACTORS]
        self.queries: list[str] = []

    def __call__(self, query: str, k: int) -> list[Passage]:
        self.queries.append(query)
        wanted = set(re.findall(r"\w+", query.lower()))
        ranked = sorted(self.passages, key=lambda p: -len(wanted & set(re.findall(r"\w+", p.text.lower()))))
        return ranked[:k]


def instruct_split(count: int = 10) -> TrainTestSplit:
    samples = [
        InstructDatasetSample(instruction=f"How does a feature pipeline feed Qdrant? ({index})", answer=ANSWER)
        for index in range(count)
    ]
    dataset = CategoryDataset(dataset_type=DatasetType.INSTRUCTION, category=DataCategory.ARTICLES, samples=samples)
    return TrainTestSplit(dataset_type=DatasetType.INSTRUCTION, train={DataCategory.ARTICLES: dataset})


def preference_split() -> TrainTestSplit:
    sample = PreferenceDatasetSample(
        instruction="What feeds the store?", chosen=ANSWER, rejected="Something happens with data somewhere."
    )
    dataset = CategoryDataset(dataset_type=DatasetType.PREFERENCE, category=DataCategory.ARTICLES, samples=[sample])
    return TrainTestSplit(dataset_type=DatasetType.PREFERENCE, train={DataCategory.ARTICLES: dataset})


def test_every_sample_gets_the_gold_passage_among_distractors_and_a_cited_answer():
    store = FakeStore()
    settings = RaftSettings(passages=3, without_gold_share=0.0, min_answer_words=0)
    split, report = RetrievalAwareSamples(store, settings).instruct(instruct_split())
    samples = split.samples("train")
    assert report.samples == report.with_gold == 10 and report.without_gold == 0
    positions = set()
    for sample in samples:
        assert sample.passages is not None and len(sample.passages) == 3
        gold = [number for number, text in enumerate(sample.passages, start=1) if "feature pipeline" in text]
        assert len(gold) == 1, "exactly one gold passage; the gold document is never a distractor too"
        positions.add(gold[0])
        assert f"[{gold[0]}]" in sample.answer
        assert re.sub(r" \[\d\]", "", sample.answer) == ANSWER
    assert len(positions) > 1, "the gold passage moves around, so the model cannot learn a position"
    assert report.targets_lengthened == 0
    assert ANSWER in store.queries, "the gold passage is searched with the answer itself"


def test_a_share_of_samples_leaves_the_gold_passage_out_and_says_so():
    split, report = RetrievalAwareSamples(FakeStore(), RaftSettings(without_gold_share=0.5, seed=3)).instruct(
        instruct_split(40)
    )
    without = [sample for sample in split.samples("train") if sample.answer in NOT_COVERED_ANSWERS]
    assert report.without_gold == len(without) and 8 <= len(without) <= 32
    for sample in without:
        assert sample.passages and not any("feature pipeline" in text for text in sample.passages)


def test_the_training_prompt_is_the_rag_prompt_the_server_renders():
    split, _ = RetrievalAwareSamples(FakeStore(), RaftSettings(without_gold_share=0.0)).instruct(instruct_split(1))
    sample = split.samples("train")[0]
    row = instruct_row(sample, "<eos>")
    assert row["prompt"] == format_rag_prompt(sample.instruction, sample.passages)
    assert row["completion"] == sample.answer + "<eos>"
    system, user = rag_turns(sample.instruction, sample.passages)
    assert row["prompt"].startswith(system) and user in row["prompt"]


def test_the_served_chat_template_renders_the_training_prompt():
    from jinja2 import Environment

    from llm_engineering.domain.prompts import instruction_chat_template

    passages = ["First passage.", "Second passage."]
    system, user = rag_turns("Why?", passages)
    template = Environment().from_string(instruction_chat_template(bos=False))
    rendered = template.render(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        add_generation_prompt=True,
        eos_token="<eos>",
    )
    assert rendered == format_rag_prompt("Why?", passages)


def test_preference_pairs_get_passages_and_derived_pairs_fail_the_guard():
    builder = RetrievalAwareSamples(FakeStore(), RaftSettings(derived_pairs=6, without_gold_share=0.0))
    split, report = builder.preference(preference_split(), instruct_split(10))
    samples = split.samples("train")
    assert len(samples) == 1 + 6 and report.derived_pairs == 6
    assert {kind for kind, count in report.rejected_kinds.items() if count} == {"loop", "too_short", "off_topic"}
    guard = AnswerGuard()
    for sample in samples:
        assert sample.passages is not None
        row = preference_row(sample, "<eos>")
        assert row["prompt"] == format_rag_prompt(sample.instruction, sample.passages)
        assert guard.problem(sample.chosen, list(sample.passages)) is None
    derived = samples[1:]
    loop, short = derived[0], derived[1]
    assert "repeats itself" in guard.problem(loop.rejected, list(loop.passages))
    assert "fewer than" in guard.problem(short.rejected, list(short.passages))


def test_an_answer_no_stored_passage_holds_is_its_own_gold_passage():
    def search(query: str, k: int) -> list[Passage]:
        return DISTRACTORS[:k]

    split, report = RetrievalAwareSamples(search, RaftSettings(without_gold_share=0.0)).instruct(instruct_split(2))
    assert report.gold_from_answer == 2
    assert all(ANSWER in sample.passages for sample in split.samples("train"))


def test_text_is_cut_at_sentence_boundaries():
    text = "One two three. Four five six seven. Eight nine ten eleven twelve."
    assert cut_at_sentence(text, 40) == "One two three. Four five six seven."
    assert cut_at_sentence(text, 500) == text
    assert cut_at_sentence("a" * 50 + " " + "b" * 80, 60).endswith(".")
    long = " ".join(f"Filler sentence number {index} about nothing." for index in range(30)) + " " + GOLD
    window = answer_window(long, ANSWER, 300)
    assert "feature pipeline writes cleaned chunks" in window and len(window) <= 300


def test_citations_close_the_sentences_drawn_from_the_passage():
    cited = cite("The store is fed by the feature pipeline. Unrelated words entirely here.", GOLD, 2)
    assert cited == "The store is fed by the feature pipeline [2]. Unrelated words entirely here."
    assert cite("Nothing in common at all.", GOLD, 1) == "Nothing in common at all [1]."


@pytest.mark.parametrize("kind", ["loop", "too_short", "off_topic"])
def test_guard_rejected_replies(kind):
    reply = guard_rejected_reply(kind, ANSWER, DISTRACTORS[0].text)
    assert reply and reply != ANSWER
    assert guard_rejected_reply("off_topic", ANSWER, None) is None


def test_settings_are_checked():
    with pytest.raises(ValueError, match="at least 1 passage"):
        RaftSettings(passages=0)
    with pytest.raises(ValueError, match="without_gold_share"):
        RaftSettings(without_gold_share=1.0)


def test_an_answer_the_passages_do_not_ground_is_replaced_by_the_authors_sentences():
    paraphrase = (
        "Honestly, syncing embeddings with fresh posts demands a streaming job; a feature pipeline handles it "
        "elegantly, empowering seamless, delightful, robust retrieval experiences for everyone involved."
    )
    split = instruct_split(1)
    sample = split.samples("train")[0].model_copy(update={"answer": paraphrase})
    split.train[DataCategory.ARTICLES] = split.train[DataCategory.ARTICLES].model_copy(update={"samples": [sample]})
    out, report = RetrievalAwareSamples(FakeStore(), RaftSettings(without_gold_share=0.0)).instruct(split)
    target = out.samples("train")[0]
    assert report.targets_author_sentences == 1 and report.targets_dataset_answer == 0
    assert "Keeping the store in sync with new posts is a streaming job" in target.answer
    assert re.search(r"\[\d\]", target.answer)
    assert AnswerGuard().problem(target.answer, list(target.passages)) is None


def test_a_seeded_subset_of_each_split_gets_passages():
    settings = RaftSettings(max_train_samples=4, without_gold_share=0.0)
    first, report = RetrievalAwareSamples(FakeStore(), settings).instruct(instruct_split(10))
    again, _ = RetrievalAwareSamples(FakeStore(), settings).instruct(instruct_split(10))
    assert report.samples == 4 and len(first.samples("train")) == 4
    assert [s.instruction for s in first.samples("train")] == [s.instruction for s in again.samples("train")]


def test_a_leading_restatement_of_the_instruction_is_not_trained_on():
    from llm_engineering.application.datasets.raft import without_restatement

    instruction = "Explain how an LLM Twin can enhance communication efficiency."
    answer = (
        "An LLM Twin can enhance communication efficiency. It drafts replies in the author's voice, so routine "
        "messages take minutes instead of hours."
    )
    assert without_restatement(answer, instruction).startswith("It drafts replies")
    assert without_restatement("An LLM Twin can enhance communication efficiency.", instruction).startswith("An LLM")
    assert without_restatement(ANSWER, "How does a feature pipeline feed Qdrant?") == ANSWER


def test_a_short_target_is_completed_with_the_gold_passages_sentences_about_the_instruction():
    settings = RaftSettings(passages=3, without_gold_share=0.0, min_answer_words=30, gold_first_share=1.0)
    split, report = RetrievalAwareSamples(FakeStore(), settings).instruct(instruct_split(3))
    guard = AnswerGuard()
    for sample in split.samples("train"):
        assert sample.passages is not None and "feature pipeline" in sample.passages[0], "gold first"
        assert re.sub(r" \[\d\]", "", sample.answer).startswith(ANSWER), "the answer first, then the completion"
        assert len(sample.answer.split()) >= 30 and sample.answer.count("[1]") >= 2
        assert guard.problem(sample.answer, list(sample.passages)) is None, "no loop, grounded"
    assert report.targets_lengthened == 3
