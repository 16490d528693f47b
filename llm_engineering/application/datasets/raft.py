"""Retrieval-aware training samples, in the spirit of RAFT: the twin practises the task `/rag` gives it.

Each instruct sample gets the numbered passages a `/rag` prompt would hold for its instruction: the passage
its answer comes from (the gold passage, found by searching the feature store with the answer itself) at a
random place among distractors retrieved for the instruction, each cut to a prompt-sized window at sentence
boundaries. The target is the author's answer (cut at a sentence boundary when too long) with `[n]` after
the sentences drawn from the gold passage. A share of samples leaves the gold passage out and teaches the
model to say that the passages do not cover the request instead of inventing an answer.

Preference pairs get passages the same way; more pairs are derived from the instruct samples, with the
replies the answer guard rejects (loops, answers too short to say anything, text from a passage about
something else) as the rejected side.

Pure: the feature store comes in as a `PassageSearch` callable; randomness from a seeded generator.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llm_engineering.application.rag.answer_quality import content_words, grounding_score, request_echo
from llm_engineering.domain.datasets import (
    CategoryDataset,
    DatasetType,
    InstructDatasetSample,
    PreferenceDatasetSample,
    TrainTestSplit,
)

if TYPE_CHECKING:
    from llm_engineering.application.rag.retriever import ContextRetriever

# A sentence ends at . ! ? (closing quotes/brackets allowed) before whitespace, or at a blank line.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n\s*\n")
NOT_COVERED_ANSWERS = (
    "The passages I have here do not cover this, so I would rather not guess.",
    "None of these passages answers this request; I would need other notes of mine to answer it.",
    "These passages are about something else and do not cover this request.",
)
REJECTED_KINDS = ("loop", "too_short", "off_topic")
# A retrieved passage sharing this much of the answer's words is too close to the answer to be a distractor.
DISTRACTOR_MAX_OVERLAP = 0.5
MIN_SENTENCE_WORDS = 5


@dataclass(frozen=True)
class Passage:
    """A passage of the author's writing found in the feature store, and the document it belongs to."""

    text: str
    document_id: str


# (query, k) -> the k best passages for the query, best first.
PassageSearch = Callable[[str, int], list[Passage]]


@dataclass(frozen=True)
class RaftSettings:
    """How retrieval-aware samples are built (`configs/training.yaml`, `retrieval_aware`)."""

    passages: int = 3
    without_gold_share: float = 0.1
    max_passage_chars: int = 600
    max_answer_chars: int = 800
    # Share of the answer's content words a stored passage must hold to count as the answer's source.
    min_source_overlap: float = 0.15
    # The dataset's answer is the target when this share of its content words is in the prompt's passages
    # (stricter than the answer guard's 0.35); otherwise the author's sentences of the gold passage that
    # match it best, up to `max_author_chars`.
    min_target_grounding: float = 0.5
    max_author_chars: int = 400
    # A target shorter than this many words is completed with the gold passage's sentences most about the
    # instruction: a few-word answer is one the answer guard rejects, so the twin must not learn it.
    min_answer_words: int = 30
    # Share of samples whose gold passage comes first, as `/rag` lists the best-matching source first; the
    # rest place it at random among the distractors.
    gold_first_share: float = 0.5
    # A seeded subset of each split gets passages (None: all); training reads only a few hundred samples.
    max_train_samples: int | None = None
    max_test_samples: int | None = None
    # Preference pairs derived from instruct samples, per split (0: only the dataset's own pairs).
    derived_pairs: int = 48
    seed: int = 0

    def __post_init__(self) -> None:
        if self.passages < 1:
            raise ValueError("retrieval-aware samples need at least 1 passage")
        if not 0.0 <= self.without_gold_share < 1.0:
            raise ValueError("without_gold_share must be in [0, 1)")
        if not 0.0 <= self.gold_first_share <= 1.0:
            raise ValueError("gold_first_share must be in [0, 1]")
        if self.max_passage_chars < 100 or self.max_answer_chars < 100:
            raise ValueError("max_passage_chars and max_answer_chars must be at least 100")


@dataclass
class RaftReport:
    """What was built: counts worth logging as step metadata."""

    samples: int = 0
    with_gold: int = 0
    without_gold: int = 0
    gold_from_answer: int = 0  # no stored passage held the answer: the answer's own text was the gold passage
    targets_dataset_answer: int = 0
    targets_author_sentences: int = 0
    answers_cut: int = 0
    targets_lengthened: int = 0  # completed up to min_answer_words with more of the gold passage
    derived_pairs: int = 0
    rejected_kinds: Counter = field(default_factory=Counter)

    def as_metadata(self) -> dict[str, int]:
        return {
            "samples": self.samples,
            "with_gold_passage": self.with_gold,
            "without_gold_passage": self.without_gold,
            "gold_from_answer": self.gold_from_answer,
            "targets_dataset_answer": self.targets_dataset_answer,
            "targets_author_sentences": self.targets_author_sentences,
            "answers_cut_at_sentence": self.answers_cut,
            "targets_lengthened": self.targets_lengthened,
            "derived_preference_pairs": self.derived_pairs,
            **{f"rejected_{kind}": count for kind, count in sorted(self.rejected_kinds.items())},
        }


@dataclass(frozen=True)
class _Framed:
    passages: tuple[str, ...]
    answer: str  # the target: cited answer, or a not-covered reply
    gold: int | None  # 1-based number of the gold passage, None when left out
    distractor: str | None  # a distractor's text, for off-topic rejected replies


class RetrievalAwareSamples:
    """Builds retrieval-aware instruct and preference splits from plain ones."""

    def __init__(self, search: PassageSearch, settings: RaftSettings | None = None):
        self.search = search
        self.settings = settings or RaftSettings()

    def instruct(self, split: TrainTestSplit) -> tuple[TrainTestSplit, RaftReport]:
        """`split` with passages on every sample and cited (or not-covered) answers."""
        report = RaftReport()
        rng = random.Random(self.settings.seed)
        splits = {
            name: {
                category: dataset.model_copy(
                    update={"samples": [self._instruct_sample(sample, rng, report) for sample in samples]}
                )
                for category, (dataset, samples) in self._subset(split, name).items()
            }
            for name in ("train", "test")
        }
        return split.model_copy(update=splits), report

    def _subset(self, split: TrainTestSplit, name: str) -> dict:
        """{category: (dataset, samples)} of split `name`: every sample, or a seeded subset of
        `max_<name>_samples` across categories (in the dataset's order)."""
        limit = self.settings.max_train_samples if name == "train" else self.settings.max_test_samples
        datasets = split.split(name)  # type: ignore[arg-type]
        keys = [(category, index) for category, dataset in datasets.items() for index in range(len(dataset.samples))]
        if limit is not None and len(keys) > limit:
            keys = random.Random(self.settings.seed).sample(keys, limit)
        kept = set(keys)
        return {
            category: (dataset, [sample for index, sample in enumerate(dataset.samples) if (category, index) in kept])
            for category, dataset in datasets.items()
        }

    def preference(
        self, split: TrainTestSplit, instruct: TrainTestSplit | None = None
    ) -> tuple[TrainTestSplit, RaftReport]:
        """`split` with passages on every pair (chosen cited), plus up to `derived_pairs` pairs per split made
        from `instruct`'s samples (chosen: the cited answer; rejected: a reply the answer guard rejects)."""
        report = RaftReport()
        rng = random.Random(self.settings.seed + 1)
        splits: dict[str, dict] = {}
        for name in ("train", "test"):
            categories: dict = {}
            for category, (dataset, kept) in self._subset(split, name).items():
                samples = [self._preference_sample(sample, rng, report) for sample in kept]
                categories[category] = dataset.model_copy(update={"samples": samples})
            if instruct is not None and self.settings.derived_pairs:
                self._derive_pairs(instruct.split(name), categories, rng, report)
            splits[name] = categories
        return split.model_copy(update=splits), report

    # --- one sample ----------------------------------------------------------------------------------
    def _instruct_sample(
        self, sample: InstructDatasetSample, rng: random.Random, report: RaftReport
    ) -> InstructDatasetSample:
        framed = self._frame(sample.instruction, sample.answer, rng, report, allow_without_gold=True)
        return sample.model_copy(update={"answer": framed.answer, "passages": framed.passages})

    def _preference_sample(
        self, sample: PreferenceDatasetSample, rng: random.Random, report: RaftReport
    ) -> PreferenceDatasetSample:
        framed = self._frame(sample.instruction, sample.chosen, rng, report, allow_without_gold=False)
        return sample.model_copy(update={"chosen": framed.answer, "passages": framed.passages})

    def _derive_pairs(self, source: dict, categories: dict, rng: random.Random, report: RaftReport) -> None:
        budget = self.settings.derived_pairs
        for category, dataset in source.items():
            derived: list[PreferenceDatasetSample] = []
            for sample in dataset.samples:
                if len(derived) >= budget:
                    break
                framed = self._frame(sample.instruction, sample.answer, rng, report, allow_without_gold=False)
                kind = REJECTED_KINDS[report.derived_pairs % len(REJECTED_KINDS)]
                rejected = guard_rejected_reply(kind, sample.answer, framed.distractor)
                if rejected is None:
                    continue
                derived.append(
                    PreferenceDatasetSample(
                        instruction=sample.instruction,
                        chosen=framed.answer,
                        rejected=rejected,
                        provenance=sample.provenance,
                        passages=framed.passages,
                    )
                )
                report.derived_pairs += 1
                report.rejected_kinds[kind] += 1
            budget -= len(derived)
            if not derived:
                continue
            if category in categories:
                existing = categories[category]
                categories[category] = existing.model_copy(update={"samples": [*existing.samples, *derived]})
            else:
                categories[category] = CategoryDataset(
                    dataset_type=DatasetType.PREFERENCE, category=category, samples=derived
                )

    def _frame(
        self, instruction: str, answer: str, rng: random.Random, report: RaftReport, allow_without_gold: bool
    ) -> _Framed:
        settings = self.settings
        report.samples += 1
        gold_text, gold_document = self._gold(answer, report)
        answer_words = set(content_words(answer))
        distractors = [
            passage
            for passage in self.search(instruction, settings.passages + 4)
            if passage.document_id != gold_document and _overlap_of(answer_words, passage.text) < DISTRACTOR_MAX_OVERLAP
        ]
        texts = [cut_at_sentence(passage.text, settings.max_passage_chars) for passage in distractors]
        texts = [text for text in texts if text]
        without_gold = allow_without_gold and texts and rng.random() < settings.without_gold_share
        if without_gold:
            report.without_gold += 1
            chosen = tuple(texts[: settings.passages])
            return _Framed(chosen, rng.choice(NOT_COVERED_ANSWERS), None, chosen[0])
        report.with_gold += 1
        others = texts[: settings.passages - 1]
        gold_number = 1 if rng.random() < settings.gold_first_share else rng.randint(1, len(others) + 1)
        window = answer_window(gold_text, answer, settings.max_passage_chars)
        passages = (*others[: gold_number - 1], window, *others[gold_number - 1 :])
        distractor = others[0] if others else None
        cut = cut_at_sentence(without_restatement(answer, instruction), settings.max_answer_chars)
        if grounding_score(cut, list(passages)) >= settings.min_target_grounding:
            report.targets_dataset_answer += 1
            if cut != answer.strip():
                report.answers_cut += 1
            target = self._long_enough(cite(cut, window, gold_number), window, instruction, gold_number, report)
            return _Framed(passages, target, gold_number, distractor)
        # The dataset's answer says more than the passages hold (e.g. a teacher's paraphrase): training on it
        # would teach ungrounded writing, so the target is the author's own sentences it was written from,
        # those about the instruction first among equals.
        report.targets_author_sentences += 1
        target = author_sentences(window, answer, settings.max_author_chars, instruction=instruction)
        target = self._long_enough(_with_citation(target, gold_number), window, instruction, gold_number, report)
        return _Framed(passages, target, gold_number, distractor)

    def _long_enough(self, target: str, window: str, instruction: str, number: int, report: RaftReport) -> str:
        """`target`, completed with the window's sentences most about `instruction` (cited) while it has
        fewer than `min_answer_words` words and the window has sentences it does not hold yet."""
        if len(target.split()) >= self.settings.min_answer_words:
            return target
        wanted = set(content_words(instruction))
        held = set(content_words(target))
        # Sentences the target already says (the dataset's answer may quote them) would read as a loop.
        unused = [
            part
            for part in sentences(window)
            if len(part.split()) >= MIN_SENTENCE_WORDS and _overlap_of(set(content_words(part)), " ".join(held)) < 0.5
        ]
        unused.sort(key=lambda part: -len(wanted & set(content_words(part))))
        added = []
        for part in unused:
            if len(target.split()) + sum(len(p.split()) for p in added) >= self.settings.min_answer_words:
                break
            if len(target) + sum(len(p) + 1 for p in added) + len(part) > self.settings.max_answer_chars:
                continue
            added.append(_with_citation(part, number))
        if added:
            report.targets_lengthened += 1
        return " ".join([target, *added])

    def _gold(self, answer: str, report: RaftReport) -> tuple[str, str | None]:
        """The stored passage sharing most of the answer's content words (searched with the answer), or,
        when none shares `min_source_overlap` of them, the answer itself."""
        answer_words = set(content_words(answer))
        best: Passage | None = None
        best_overlap = 0.0
        for passage in self.search(answer, 5):
            overlap = _overlap_of(answer_words, passage.text)
            if overlap > best_overlap:
                best, best_overlap = passage, overlap
        if best is None or best_overlap < self.settings.min_source_overlap:
            report.gold_from_answer += 1
            return answer, None
        return best.text, best.document_id


# --- text helpers (pure) ------------------------------------------------------------------------------
def sentences(text: str) -> list[str]:
    """`text` split into sentences (every piece kept, blank-line blocks as breaks)."""
    return [piece.strip() for piece in _SENTENCE_BREAK.split(text) if piece and piece.strip()]


def cut_at_sentence(text: str, max_chars: int) -> str:
    """The longest run of `text`'s leading sentences within `max_chars` (at least the first, cut at a word)."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    kept: list[str] = []
    used = 0
    for sentence in sentences(text):
        if used + len(sentence) + (1 if kept else 0) > max_chars:
            break
        kept.append(sentence)
        used += len(sentence) + (1 if len(kept) > 1 else 0)
    if kept:
        return " ".join(kept)
    return text[:max_chars].rsplit(" ", 1)[0].rstrip(",;:") + "."


def answer_window(passage: str, answer: str, max_chars: int) -> str:
    """The run of `passage`'s sentences within `max_chars` that holds most of the answer's content words."""
    parts = sentences(passage)
    if len(passage.strip()) <= max_chars or not parts:
        return passage.strip() if len(passage.strip()) <= max_chars else cut_at_sentence(passage, max_chars)
    wanted = set(content_words(answer))
    gains = [len(wanted & set(content_words(part))) for part in parts]
    best_start, best_end, best_gain = 0, 1, -1
    for start in range(len(parts)):
        used, gain = 0, 0
        for end in range(start, len(parts)):
            used += len(parts[end]) + 1
            if used > max_chars and end > start:
                break
            gain += gains[end]
            if gain > best_gain:
                best_start, best_end, best_gain = start, end + 1, gain
    return cut_at_sentence(" ".join(parts[best_start:best_end]), max_chars)


def author_sentences(passage: str, answer: str, max_chars: int, instruction: str = "") -> str:
    """The passage's sentences that share most content words with `answer` (words of `instruction` count
    twice: the reply must be about the request), best first until `max_chars`, in the passage's order (the
    passage cut to `max_chars` when it has no full sentence)."""
    wanted = set(content_words(answer))
    asked = set(content_words(instruction))
    parts = [part for part in sentences(passage) if len(part.split()) >= MIN_SENTENCE_WORDS]

    def score(index: int) -> int:
        present = set(content_words(parts[index]))
        return len(wanted & present) + 2 * len(asked & present)

    ranked = sorted(range(len(parts)), key=lambda index: -score(index))
    chosen: list[int] = []
    used = 0
    for index in ranked:
        if chosen and used + len(parts[index]) + 1 > max_chars:
            continue
        chosen.append(index)
        used += len(parts[index]) + 1
    if not chosen:
        return cut_at_sentence(passage, max_chars)
    return cut_at_sentence(" ".join(parts[index] for index in sorted(chosen)), max_chars)


def without_restatement(answer: str, instruction: str, max_echo: float = 0.6) -> str:
    """`answer` without leading sentences that only say the instruction back (a teacher's habit: "X does
    Y because..." after "Explain why X does Y"); the answer guard rejects a reply that restates the request,
    so the twin must not learn to open with one. Kept whole when nothing else would remain."""
    parts = sentences(answer)
    start = 0
    while start < len(parts) - 1 and request_echo(parts[start], instruction) >= max_echo:
        start += 1
    return " ".join(parts[start:]) if start else answer


def cite(answer: str, gold: str, number: int, min_overlap: float = 0.5) -> str:
    """`answer` with ` [number]` closing each sentence whose content words mostly occur in `gold` (the first
    sentence when none does: the answer comes from that passage)."""
    gold_words = set(content_words(gold))
    parts = sentences(answer)
    if not parts:
        return answer
    drawn = [_share_in(set(content_words(part)), gold_words) >= min_overlap for part in parts]
    if not any(drawn):
        drawn[0] = True
    return " ".join(_with_citation(part, number) if flag else part for part, flag in zip(parts, drawn, strict=True))


def guard_rejected_reply(kind: str, answer: str, distractor: str | None) -> str | None:
    """A reply of the kind the answer guard rejects, built from the sample: `loop` (a sentence repeated),
    `too_short` (a few words) or `off_topic` (a distractor's text). None when the sample cannot give one."""
    parts = sentences(answer)
    if kind == "loop" and parts:
        return " ".join([parts[0]] * 4)
    if kind == "too_short":
        head = " ".join(answer.split()[:5]).rstrip(",;:.")
        return f"{head}." if head else None
    if kind == "off_topic" and distractor:
        return cut_at_sentence(distractor, 400)
    return None


def _with_citation(sentence: str, number: int) -> str:
    end = len(sentence.rstrip(".!?\"')]"))
    return f"{sentence[:end]} [{number}]{sentence[end:]}"


def _overlap_of(wanted: set[str], text: str) -> float:
    """Share of `wanted` words found in `text`."""
    return _share_in(wanted, set(content_words(text)))


def _share_in(wanted: set[str], present: set[str]) -> float:
    """Share of `wanted` words among `present` ones (0.0 when nothing is wanted)."""
    return len(wanted & present) / len(wanted) if wanted else 0.0


def retriever_passage_search(retriever: ContextRetriever) -> PassageSearch:
    """A `PassageSearch` over the RAG retriever (search as `/rag` does, without LLM steps)."""

    def search(query: str, k: int) -> list[Passage]:
        result = retriever.search_with_trace(query, k=k, expand_to_n_queries=1)
        return [Passage(item.chunk.content, str(item.chunk.document_id)) for item in result.chunks]

    return search
