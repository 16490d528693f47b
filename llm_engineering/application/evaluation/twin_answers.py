"""Figures of one model's answers to the twin's question set, asked through `/rag`: pure aggregation.

In: one `RagResult` per question (what the API answered, or its error), as `bench/twin_questions.py`
collects them. Out: a `ModelSummary` per model with
- the share of answers from the model itself (`answer_source=model`: the reply passed the answer guard),
- the guard's reasons for the rest, in plain categories (too short, repeats, not grounded, off topic, other),
- mean grounding, repetition and words of the model's reply (the trace's `generation.reply`, measured
  before any fallback replaced it, so a model is judged on what it wrote),
- /rag latency p50/p95 over the answered questions (and the LLM's share of it), errors and timeouts counted
  apart,
- the style metrics of the evaluation pipeline (style margin, stylometric distance) over the answers the
  model wrote, from a `StyleScorer` the caller passes in (the metrics need the embedder).

`ModelSummary.metrics()` is a flat name -> value mapping, the form the evaluation gate reads.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from llm_engineering.application.evaluation.rag_evaluation import percentile

GUARD_PASSED = "passed"
# The guard's reasons (`AnswerGuard.problem`) by a phrase each holds, in report order; anything else is "other".
GUARD_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("too short", "fewer than"),
    ("repeats", "repeats itself"),
    ("not grounded", "not grounded"),
    ("off topic", "off the request's topic"),
)
OTHER = "other"
# Direction of each figure of `ModelSummary.metrics()`, for a gate rule (style metrics come from the scorer).
HIGHER_IS_BETTER: dict[str, bool] = {
    "model_answer_share": True,
    "grounding": True,
    "repetition": False,
    "words": True,
    "latency_p50_s": False,
    "latency_p95_s": False,
    "errors": False,
    "timeouts": False,
    "style_margin": True,
    "stylometric_distance": False,
}


class StyleScorer(Protocol):
    """Style metrics of answers: metric name -> one value per answer (None where it has none)."""

    def __call__(self, answers: Sequence[str]) -> Mapping[str, Sequence[float | None]]: ...


@dataclass(frozen=True)
class RagResult:
    """What `/rag` gave for one question: the answer and its trace figures, or the error. `timed_out` is a
    request that got no answer in time (the client gave up, or the API answered 504)."""

    question_id: str
    kind: str
    latency_s: float
    answer: str | None = None
    answer_source: str | None = None
    guard: str | None = None
    sources: int = 0
    reply_words: int | None = None
    # The model's own reply (before any fallback), to read what a model wrote beside another's.
    reply: str | None = None
    grounding: float | None = None
    repetition: float | None = None
    completion_tokens: int | None = None
    llm_latency_s: float | None = None
    error: str | None = None
    timed_out: bool = False

    @property
    def answered(self) -> bool:
        return self.answer is not None and self.error is None and not self.timed_out

    @property
    def from_model(self) -> bool:
        return self.answered and self.answer_source == "model"


def result_from_response(question_id: str, kind: str, latency_s: float, body: Mapping[str, Any]) -> RagResult:
    """A `RagResult` from the JSON body of a 200 `POST /rag` (`answer`, `sources`, `metadata.generation`)."""
    generation = (body.get("metadata") or {}).get("generation") or {}
    reply = generation.get("reply") or {}
    return RagResult(
        question_id=question_id,
        kind=kind,
        latency_s=latency_s,
        answer=str(body.get("answer") or ""),
        # Traces from before the guard existed hold no source: the answer is then the model's.
        answer_source=str(generation.get("answer_source") or "model"),
        guard=str(generation.get("guard") or GUARD_PASSED),
        sources=len(body.get("sources") or []),
        reply_words=reply.get("words"),
        reply=reply.get("text"),
        grounding=reply.get("grounding"),
        repetition=reply.get("repetition"),
        completion_tokens=generation.get("completion_tokens"),
        llm_latency_s=generation.get("latency_s"),
    )


def guard_category(reason: str | None) -> str | None:
    """The plain category of a guard reason; None when the reply passed (or there was no reason)."""
    if not reason or reason == GUARD_PASSED:
        return None
    text = reason.lower()
    return next((category for category, phrase in GUARD_CATEGORIES if phrase in text), OTHER)


@dataclass(frozen=True)
class ModelSummary:
    """The figures of one model over a question set (see the module docstring); None where nothing was measured."""

    model: str
    questions: int
    answered: int
    errors: int
    timeouts: int
    model_answers: int
    model_share: float | None
    model_share_by_kind: dict[str, float | None]
    guard_reasons: dict[str, int]
    grounding: float | None
    repetition: float | None
    words: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_mean_s: float | None
    # The answer's generation alone (the trace's `generation.latency_s`): the rest of a request is retrieval.
    llm_latency_p50_s: float | None = None
    style: dict[str, float | None] = field(default_factory=dict)
    style_answers: int = 0
    error_samples: tuple[str, ...] = ()

    def metrics(self) -> dict[str, float]:
        """The figures as one flat mapping (names as in HIGHER_IS_BETTER), the missing ones left out."""
        values: dict[str, float | None] = {
            "model_answer_share": self.model_share,
            "grounding": self.grounding,
            "repetition": self.repetition,
            "words": self.words,
            "latency_p50_s": self.latency_p50_s,
            "latency_p95_s": self.latency_p95_s,
            "errors": float(self.errors),
            "timeouts": float(self.timeouts),
            **self.style,
        }
        return {name: float(value) for name, value in values.items() if value is not None}


def summarize(model: str, results: Sequence[RagResult], style: StyleScorer | None = None) -> ModelSummary:
    """The `ModelSummary` of `model`'s `results` (one per question asked); `style` scores the answers the
    model wrote itself (extractive answers are the author's own sentences: they would flatter it)."""
    answered = [result for result in results if result.answered]
    own = [result for result in answered if result.from_model]
    reasons = Counter(category for result in answered if (category := guard_category(result.guard)) is not None)
    latencies = [result.latency_s for result in answered]
    llm_latencies = [result.llm_latency_s for result in answered if result.llm_latency_s is not None]
    style_means: dict[str, float | None] = {}
    if style is not None and own:
        for name, values in style([result.answer or "" for result in own]).items():
            style_means[name] = _mean(values)
    kinds = sorted({result.kind for result in results})
    return ModelSummary(
        model=model,
        questions=len(results),
        answered=len(answered),
        errors=sum(result.error is not None and not result.timed_out for result in results),
        timeouts=sum(result.timed_out for result in results),
        model_answers=len(own),
        model_share=len(own) / len(answered) if answered else None,
        model_share_by_kind={kind: _share(answered, kind) for kind in kinds},
        guard_reasons={name: reasons[name] for name in [*(c for c, _ in GUARD_CATEGORIES), OTHER] if reasons[name]},
        grounding=_mean([result.grounding for result in answered]),
        repetition=_mean([result.repetition for result in answered]),
        words=_mean([result.reply_words for result in answered]),
        latency_p50_s=percentile(latencies, 0.5) if latencies else None,
        latency_p95_s=percentile(latencies, 0.95) if latencies else None,
        latency_mean_s=statistics.fmean(latencies) if latencies else None,
        llm_latency_p50_s=percentile(llm_latencies, 0.5) if llm_latencies else None,
        style=style_means,
        style_answers=len(own) if style is not None else 0,
        error_samples=tuple(dict.fromkeys(result.error for result in results if result.error))[:3],
    )


def _mean(values: Sequence[float | int | None]) -> float | None:
    present = [float(value) for value in values if value is not None]
    return statistics.fmean(present) if present else None


def _share(answered: Sequence[RagResult], kind: str) -> float | None:
    of_kind = [result for result in answered if result.kind == kind]
    return sum(result.from_model for result in of_kind) / len(of_kind) if of_kind else None
