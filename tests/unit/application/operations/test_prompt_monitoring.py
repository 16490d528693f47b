from __future__ import annotations

from datetime import UTC, datetime, timedelta

from llm_engineering.application.operations.prompt_monitoring import (
    MonitoredTrace,
    compare_windows,
    traces_to_judge,
)

START = datetime(2026, 11, 1, tzinfo=UTC)


def _trace(index: int, **fields) -> MonitoredTrace:
    defaults = {"query": "q", "answer": "a", "metrics": {}, "scores": {}}
    return MonitoredTrace(trace_id=str(index), started_at=START + timedelta(minutes=index), **(defaults | fields))


def test_windows_split_by_time_not_by_input_order():
    traces = [_trace(3, metrics={"prompt_tokens": 300}), _trace(0, metrics={"prompt_tokens": 100})]
    drift, window = compare_windows(traces, score_drift=0.3, relative_drift=0.5)
    tokens = next(item for item in drift if item.metric == "prompt_tokens")
    assert (tokens.older_mean, tokens.newer_mean, tokens.change) == (100, 300, 200)
    assert tokens.drifted  # +200% > 50%
    assert window == ("2026-11-01T00:00:00+00:00", "2026-11-01T00:03:00+00:00")


def test_score_drift_uses_the_absolute_threshold_and_needs_both_halves():
    traces = [
        _trace(0, scores={"judge_accuracy": 2.5, "user_feedback": 1.0}),
        _trace(1, scores={"judge_accuracy": 2.7}),
        _trace(2, scores={"judge_accuracy": 2.4}),
        _trace(3, scores={"judge_accuracy": 2.6}),
    ]
    drift, _ = compare_windows(traces, score_drift=0.3, relative_drift=0.5)
    by_metric = {item.metric: item for item in drift}
    assert not by_metric["judge_accuracy"].drifted  # 2.6 -> 2.5
    assert by_metric["user_feedback"].newer_n == 0 and not by_metric["user_feedback"].drifted
    assert "latency_s" not in by_metric  # no values at all: not reported


def test_too_few_traces_compare_nothing():
    assert compare_windows([_trace(0)], 0.3, 0.5) == ([], None)


def test_non_finite_values_are_ignored():
    traces = [_trace(0, metrics={"latency_s": float("nan")}), _trace(1, metrics={"latency_s": 2.0})]
    drift, _ = compare_windows(traces, 0.3, 0.5)
    latency = next(item for item in drift if item.metric == "latency_s")
    assert (latency.older_n, latency.newer_n) == (0, 1)


def test_only_unjudged_traces_with_query_and_answer_are_judged():
    traces = [
        _trace(0),
        _trace(1, scores={"judge_accuracy": 3.0, "judge_style": 2.0}),
        _trace(2, scores={"judge_accuracy": 3.0}),
        _trace(3, answer=None),
    ]
    assert [trace.trace_id for trace in traces_to_judge(traces)] == ["0", "2"]
