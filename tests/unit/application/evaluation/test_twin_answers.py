"""Per-model figures of /rag answers to the twin's question set, from hand-built results."""

from __future__ import annotations

import pytest

from llm_engineering.application.evaluation.twin_answers import (
    HIGHER_IS_BETTER,
    RagResult,
    guard_category,
    result_from_response,
    summarize,
)
from llm_engineering.application.rag.answering import AnswerGuard


def _ok(qid: str, kind: str, seconds: float, source: str = "model", guard: str = "passed", **figures) -> RagResult:
    values = {"reply_words": 40, "grounding": 0.6, "repetition": 0.0, **figures}
    return RagResult(qid, kind, seconds, answer=f"answer {qid}", answer_source=source, guard=guard, sources=2, **values)


class FakeStyle:
    def __init__(self):
        self.seen: list[str] = []

    def __call__(self, answers):
        self.seen = list(answers)
        return {
            "style_margin": [0.1 * (i + 1) for i in range(len(answers))],
            "stylometric_distance": [None] * len(answers),
        }


def test_the_guards_own_reasons_fall_into_plain_categories():
    guard = AnswerGuard()
    passages = ["Rerankers score each passage against the query with a cross-encoder before prompting."]
    assert guard_category(guard.problem("Too short.", passages)) == "too short"
    assert guard_category(guard.problem("the same words again " * 10, passages)) == "repeats"
    assert guard_category(
        guard.problem("Bananas grow on tall plants in warm tropical countries nearby.", passages)
    ) == ("not grounded")
    off_topic = guard.problem("Rerankers score each passage against the query before prompting.", passages, (0.1, 0.9))
    assert guard_category(off_topic) == "off topic"
    assert guard_category("the moon was full") == "other"
    assert guard_category("passed") is None and guard_category(None) is None


def test_a_summary_counts_model_answers_reasons_latency_errors_and_timeouts():
    results = [
        _ok("h1", "how-to", 2.0, grounding=0.8, repetition=0.1, reply_words=30),
        _ok(
            "h2",
            "how-to",
            4.0,
            source="extractive",
            guard="the reply has fewer than 8 words",
            grounding=0.2,
            repetition=0.0,
            reply_words=3,
        ),
        _ok(
            "c1",
            "comparison",
            6.0,
            source="extractive",
            guard="the reply is not grounded in the passages (grounding 0.10 < 0.35)",
            grounding=0.1,
            repetition=0.3,
            reply_words=50,
        ),
        _ok("c2", "comparison", 8.0, grounding=0.9, repetition=0.2, reply_words=40),
        RagResult("o1", "opinion", 1.0, error="HTTP 503: LLM service unavailable"),
        RagResult("o2", "opinion", 300.0, error="no answer in 300s", timed_out=True),
    ]
    style = FakeStyle()
    summary = summarize("base", results, style)
    assert (summary.questions, summary.answered, summary.errors, summary.timeouts) == (6, 4, 1, 1)
    assert summary.model_answers == 2 and summary.model_share == pytest.approx(0.5)
    assert summary.model_share_by_kind == {"comparison": 0.5, "how-to": 0.5, "opinion": None}
    assert summary.guard_reasons == {"too short": 1, "not grounded": 1}
    assert summary.grounding == pytest.approx((0.8 + 0.2 + 0.1 + 0.9) / 4)
    assert summary.repetition == pytest.approx(0.15)
    assert summary.words == pytest.approx(30.75)
    # Nearest rank over the answered requests only: errors and timeouts are counted, not timed.
    assert (summary.latency_p50_s, summary.latency_p95_s) == (4.0, 8.0)
    assert summary.latency_mean_s == pytest.approx(5.0)
    # Style scores only what the model wrote itself; a metric without values has no mean.
    assert style.seen == ["answer h1", "answer c2"]
    assert summary.style == {"style_margin": pytest.approx(0.15), "stylometric_distance": None}
    assert summary.style_answers == 2
    assert summary.error_samples == ("HTTP 503: LLM service unavailable", "no answer in 300s")


def test_metrics_are_flat_numbers_named_for_the_gate():
    summary = summarize("twin", [_ok("h1", "how-to", 3.0), _ok("h2", "how-to", 5.0, grounding=0.4)])
    metrics = summary.metrics()
    assert metrics["model_answer_share"] == 1.0 and metrics["errors"] == 0.0
    assert metrics["grounding"] == pytest.approx(0.5)
    assert set(metrics) <= set(HIGHER_IS_BETTER)
    assert "style_margin" not in metrics  # no scorer, no style figures


def test_nothing_answered_gives_no_figures_instead_of_failing():
    summary = summarize("down", [RagResult("h1", "how-to", 0.1, error="ConnectError: refused")], FakeStyle())
    assert summary.model_share is None and summary.latency_p50_s is None and summary.grounding is None
    assert summary.style == {} and summary.guard_reasons == {}
    assert summary.metrics() == {"errors": 1.0, "timeouts": 0.0}


def test_a_rag_response_body_becomes_a_result():
    body = {
        "answer": "Rerank before you prompt [1].",
        "sources": [{"document_id": "d1"}, {"document_id": "d2"}],
        "metadata": {
            "generation": {
                "answer_source": "extractive",
                "guard": "the reply repeats itself (repetition 0.40 > 0.2)",
                "completion_tokens": 150,
                "latency_s": 6.25,
                "reply": {"text": "Rerank rerank rerank.", "words": 120, "grounding": 0.7, "repetition": 0.4},
            }
        },
    }
    result = result_from_response("h1", "how-to", 7.5, body)
    assert result.answered and not result.from_model
    assert (result.sources, result.reply_words, result.grounding, result.repetition) == (2, 120, 0.7, 0.4)
    assert guard_category(result.guard) == "repeats" and result.completion_tokens == 150
    assert result.llm_latency_s == 6.25 and result.reply == "Rerank rerank rerank."
    assert summarize("m", [result]).llm_latency_p50_s == 6.25
    plain = result_from_response("h2", "how-to", 1.0, {"answer": "Yes.", "metadata": {}})
    assert plain.from_model and plain.guard == "passed" and plain.grounding is None
