"""Curation of generated datasets: rule filters, exact and near deduplication, decontamination against
the test split, and an LLM-judge quality filter.

Each step takes samples and returns the kept ones, in their original order, with a `CurationStepReport`
(kept count, removal count per reason) that pipelines log as metadata. The rules follow the book:
answers long enough and well formed (chapter 6's preference filters), no refusals, instructions that
stand on their own (no "according to the context"), no duplicates, and no training sample that leaks
an evaluation sample. The similarity algorithms live in `dedup.py`; the judge comes in as a `QualityJudge`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from llm_engineering.application.datasets.dedup import find_contaminated, find_exact_duplicates, find_near_duplicates
from llm_engineering.domain.datasets import DatasetSample, DatasetType, PreferenceDatasetSample

S = TypeVar("S", bound=DatasetSample)


class CurationReason(StrEnum):
    INSTRUCTION_TOO_SHORT = "instruction_too_short"
    INSTRUCTION_TOO_LONG = "instruction_too_long"
    ANSWER_TOO_SHORT = "answer_too_short"
    ANSWER_TOO_LONG = "answer_too_long"
    ANSWER_FORMAT = "answer_format"
    REFUSAL = "refusal"
    MENTIONS_SOURCE = "mentions_source"
    BLOCKED_KEYWORD = "blocked_keyword"
    REJECTED_EMPTY = "rejected_empty"
    REJECTED_EQUALS_CHOSEN = "rejected_equals_chosen"
    EXACT_DUPLICATE = "exact_duplicate"
    NEAR_DUPLICATE = "near_duplicate"
    LOW_QUALITY = "low_quality"
    JUDGE_FAILED = "judge_failed"  # a note, not a removal: the sample is kept


@dataclass
class CurationStepReport:
    """What one curation step did: samples kept, samples removed per reason, and other counts (`notes`)."""

    name: str
    kept: int
    removed: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def removed_total(self) -> int:
        return sum(self.removed.values())

    def as_metadata(self) -> dict[str, Any]:
        """`{"kept": n, "removed": {reason: n}}`, plus `"notes"` when there are any."""
        metadata: dict[str, Any] = {"kept": self.kept, "removed": {str(k): v for k, v in self.removed.items()}}
        if self.notes:
            metadata["notes"] = {str(k): v for k, v in self.notes.items()}
        return metadata


@dataclass
class CurationReport:
    """The reports of a chain of curation steps, in the order they ran."""

    steps: list[CurationStepReport] = field(default_factory=list)

    def as_metadata(self) -> dict[str, dict[str, Any]]:
        """`{step_name: {"kept": n, "removed": {...}}}` for the experiment tracker."""
        return {step.name: step.as_metadata() for step in self.steps}


# Refusals and "as an AI" disclaimers teach the model a voice the author never had. Phrases are specific
# enough not to hit the author's own prose ("As an AI engineer", "I cannot stress enough").
REFUSAL_PHRASES: tuple[str, ...] = (
    "as an ai,",
    "as an ai language model",
    "as an ai model",
    "as an ai assistant",
    "as a language model",
    "i cannot help",
    "i cannot assist",
    "i cannot provide",
    "i cannot answer",
    "i can't help",
    "i can't assist",
    "i can't provide",
    "i'm sorry, but",
    "i am sorry, but",
    "i'm unable to",
    "i am unable to",
)
# Instructions must be self-contained (the book's rule): the fine-tuned model never sees the extract.
# "the context" alone would hit every text about context windows, so only phrases that point at a source.
SOURCE_PHRASES: tuple[str, ...] = (
    "the provided context",
    "the given context",
    "the context provided",
    "the context above",
    "based on the context",
    "according to the context",
    "the provided extract",
    "the given extract",
    "the extract above",
    "this extract",
    # Bare "the extract" is rare in technical prose ("extract" is mostly a verb there), common in bad samples.
    "the extract",
    "the provided passage",
    "the given passage",
    "the passage above",
    "the provided text",
    "the given text",
    "the text above",
    "the article above",
    "this excerpt",
    "the excerpt",
)
_OPENING_QUOTES = "\"'\u201c\u2018\u00ab"
_ANSWER_END = re.compile(r"[.!?][\"'\u201d\u2019\u00bb)\]]*$")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class FilterConfig:
    """Thresholds and phrase lists of `apply_rule_filters`. Defaults are the book's preference filters
    (chosen answers of at least 100 characters, capitalised and ending with a sentence mark)."""

    min_instruction_chars: int = 10
    max_instruction_chars: int = 500
    min_answer_chars: int = 100
    max_answer_chars: int = 4000
    require_answer_format: bool = True
    blocked_keywords: tuple[str, ...] = ()
    refusal_phrases: tuple[str, ...] = REFUSAL_PHRASES
    source_phrases: tuple[str, ...] = SOURCE_PHRASES

    @classmethod
    def for_dataset(cls, dataset_type: DatasetType) -> FilterConfig:
        """The defaults for one dataset type: instruct answers may be shorter (a definition, a one-liner)."""
        config = cls()
        return replace(config, min_answer_chars=50) if DatasetType(dataset_type) == DatasetType.INSTRUCTION else config


@lru_cache(maxsize=64)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One case-insensitive regex matching any phrase as whole words; None for no phrases."""
    parts = [r"\s+".join(re.escape(word) for word in phrase.split()) for phrase in phrases if phrase.strip()]
    if not parts:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def _mentions(phrases: tuple[str, ...], *texts: str) -> bool:
    pattern = _phrase_pattern(phrases)
    # Typeset apostrophes (U+2019 in "I can't") would otherwise slip past the phrase lists.
    return pattern is not None and any(pattern.search(text.replace("\u2019", "'")) for text in texts)


def _well_formed(answer: str) -> bool:
    """Starts with an uppercase letter, a digit, a quote, a code fence or a list item; ends with a sentence
    mark (maybe then a closing quote or bracket) or a closed code fence."""
    first = answer[:1]
    # Technical writing also opens with a code block or a list, and may close with a code block.
    starts_well = first.isupper() or first.isdigit() or (first != "" and first in _OPENING_QUOTES)
    starts_well = starts_well or answer.startswith(("```", "- ", "* ", "1. "))
    return starts_well and (bool(_ANSWER_END.search(answer)) or answer.endswith("```"))


def _squash(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip().lower()


def rule_violation(sample: DatasetSample, config: FilterConfig) -> CurationReason | None:
    """The first rule `sample` breaks, in the order of `CurationReason`, or None when it passes all."""
    instruction, answer = sample.instruction.strip(), sample.answer.strip()
    checks: list[tuple[CurationReason, bool]] = [
        (CurationReason.INSTRUCTION_TOO_SHORT, len(instruction) < config.min_instruction_chars),
        (CurationReason.INSTRUCTION_TOO_LONG, len(instruction) > config.max_instruction_chars),
        (CurationReason.ANSWER_TOO_SHORT, len(answer) < config.min_answer_chars),
        (CurationReason.ANSWER_TOO_LONG, len(answer) > config.max_answer_chars),
        (CurationReason.ANSWER_FORMAT, config.require_answer_format and not _well_formed(answer)),
    ]
    for reason, failed in checks:
        if failed:
            return reason
    if _mentions(config.refusal_phrases, answer):
        return CurationReason.REFUSAL
    if _mentions(config.source_phrases, instruction, answer):
        return CurationReason.MENTIONS_SOURCE
    if _mentions(config.blocked_keywords, instruction, answer):
        return CurationReason.BLOCKED_KEYWORD
    if isinstance(sample, PreferenceDatasetSample):
        if not sample.rejected.strip():
            return CurationReason.REJECTED_EMPTY
        if _squash(sample.rejected) == _squash(sample.chosen):
            return CurationReason.REJECTED_EQUALS_CHOSEN
    return None


def _partition(name: str, samples: Sequence[S], reasons: Sequence[str | None]) -> tuple[list[S], CurationStepReport]:
    """The samples whose reason is None, in order, and the report counting the others per reason."""
    kept = [sample for sample, reason in zip(samples, reasons, strict=True) if reason is None]
    removed = Counter(str(reason) for reason in reasons if reason is not None)
    return kept, CurationStepReport(name=name, kept=len(kept), removed=dict(sorted(removed.items())))


def apply_rule_filters(samples: Sequence[S], config: FilterConfig) -> tuple[list[S], CurationStepReport]:
    """Samples that pass every rule of `config` (in order), and a report with one reason per removed sample."""
    return _partition("rule_filters", samples, [rule_violation(sample, config) for sample in samples])


def remove_exact_duplicates(samples: Sequence[S]) -> tuple[list[S], CurationStepReport]:
    """Samples without repeats of an earlier `text_for_dedup()` (compared after case, whitespace and edge
    punctuation normalisation); the first occurrence is kept."""
    duplicates = find_exact_duplicates([sample.text_for_dedup() for sample in samples])
    reasons = [CurationReason.EXACT_DUPLICATE if i in duplicates else None for i in range(len(samples))]
    return _partition("exact_dedup", samples, reasons)


def remove_near_duplicates(
    samples: Sequence[S], threshold: float = 0.85, num_perm: int = 128, shingle_words: int = 3, seed: int = 1
) -> tuple[list[S], CurationStepReport]:
    """Samples without near repeats: a sample whose word-shingle Jaccard similarity (MinHash estimate) to an
    earlier kept sample is >= `threshold` is removed. Deterministic for a given `seed`."""
    texts = [sample.text_for_dedup() for sample in samples]
    duplicates = find_near_duplicates(texts, threshold, num_perm=num_perm, shingle_words=shingle_words, seed=seed)
    reasons = [CurationReason.NEAR_DUPLICATE if i in duplicates else None for i in range(len(samples))]
    return _partition("near_dedup", samples, reasons)


def decontaminate(
    train: Sequence[S], test: Sequence[DatasetSample], ngram: int = 8, max_overlap: float = 0.5
) -> tuple[list[S], CurationStepReport]:
    """Training samples that do not leak a test sample, and the report (`test_exact`, `test_overlap`).

    A training sample is removed when its normalised text equals a test sample's, or when at least
    `max_overlap` of its word `ngram`-grams occur in the test samples. `test` is never modified.
    """
    leaks = find_contaminated(
        [sample.text_for_dedup() for sample in train],
        [sample.text_for_dedup() for sample in test],
        ngram=ngram,
        max_overlap=max_overlap,
    )
    return _partition("decontamination", train, [leaks.get(i) for i in range(len(train))])


class QualityJudge(Protocol):
    def score(self, sample: DatasetSample) -> int | None:
        """A quality score from 1 (poor) to 4 (excellent), or None when the judge could not give one."""
        ...


# The judge's verdict: "Score: 3", "score: 3/4", "**Score:** 4", {"score": 3}, "Score: 4 out of 4".
_SCORE = re.compile(r"\bscore\b[\s:*\"'`=]{0,8}(\d+(?:\.\d+)?)(?:\s*(?:/|out\s+of)\s*(\d+))?", re.IGNORECASE)


def parse_judge_score(text: str) -> int | None:
    """The 1..4 score in a judge's reply (`Feedback: ...` then `Score: N`), or None when there is none.

    The last "score" in the reply wins (the feedback may mention earlier ones); a decimal, an out-of-range
    value or a scale other than 4 gives None.
    """
    matches = list(_SCORE.finditer(text))
    if not matches:
        return None
    value, scale = matches[-1].groups()
    if "." in value or (scale is not None and int(scale) != 4):
        return None
    return int(value) if 1 <= int(value) <= 4 else None


def filter_by_quality(
    samples: Sequence[S], judge: QualityJudge, min_score: int = 3
) -> tuple[list[S], CurationStepReport, list[int | None]]:
    """Samples the judge scores at least `min_score`, the report, and every sample's score (None: failed).

    Samples the judge failed on are kept (a judge outage should not empty the dataset) and counted
    in the report's `notes["judge_failed"]`.
    """
    scores: list[int | None] = []
    for sample in samples:
        score = judge.score(sample)
        # A score outside 1..4 is a judge failure, not a verdict.
        scores.append(score if isinstance(score, int) and 1 <= score <= 4 else None)
    reasons = [CurationReason.LOW_QUALITY if score is not None and score < min_score else None for score in scores]
    kept, report = _partition("quality", samples, reasons)
    failed = sum(score is None for score in scores)
    if failed:
        report.notes[str(CurationReason.JUDGE_FAILED)] = failed
    return kept, report, scores


def curate(
    samples: Sequence[S], config: FilterConfig, *, near_duplicate_threshold: float = 0.85
) -> tuple[list[S], list[CurationStepReport]]:
    """Rule filters, then exact deduplication, then near deduplication; the kept samples and one report per step."""
    filtered, filter_report = apply_rule_filters(samples, config)
    unique, exact_report = remove_exact_duplicates(filtered)
    kept, near_report = remove_near_duplicates(unique, threshold=near_duplicate_threshold)
    return kept, [filter_report, exact_report, near_report]
