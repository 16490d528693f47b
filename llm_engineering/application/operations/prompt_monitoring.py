"""Prompt monitoring: recent `/rag` traces, scored by the LLM judge where they have no judge score yet,
and compared in time (older half vs newer half of the sample) to spot drift in quality, tokens or latency.

Pure: the trace records, which ones need judging, the windows and the verdicts. Reading traces and writing
scores is the `TraceStore` port's job (Opik in infrastructure).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from llm_engineering.application.evaluation.judge import AnswerToJudge, JudgeRun

# Feedback score names written by the monitoring job (the book's `llm_judge_score`, split by criterion).
JUDGE_SCORES = {"accuracy": "judge_accuracy", "style": "judge_style"}
USER_FEEDBACK = "user_feedback"
# Metrics compared between the windows: (name, kind) where kind picks the drift threshold.
SCORE_METRICS = ("judge_accuracy", "judge_style", USER_FEEDBACK)
VOLUME_METRICS = ("prompt_tokens", "completion_tokens", "latency_s")


@dataclass(frozen=True)
class MonitoredTrace:
    """One `/rag` call as monitoring sees it."""

    trace_id: str
    started_at: datetime
    query: str | None
    answer: str | None
    metrics: Mapping[str, float] = field(default_factory=dict)
    scores: Mapping[str, float] = field(default_factory=dict)

    def value(self, metric: str) -> float | None:
        value = self.scores.get(metric, self.metrics.get(metric))
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    @property
    def judged(self) -> bool:
        return all(name in self.scores for name in JUDGE_SCORES.values())

    @property
    def judgeable(self) -> bool:
        return bool(self.query and self.answer)


class TraceStore(Protocol):
    """Where traces live (Opik): read the newest ones, write scores back."""

    def recent(self, limit: int) -> list[MonitoredTrace]: ...

    def score(self, trace_id: str, name: str, value: float, reason: str | None = None) -> bool: ...


@dataclass(frozen=True)
class MetricDrift:
    metric: str
    older_mean: float | None
    newer_mean: float | None
    older_n: int
    newer_n: int
    threshold: str
    drifted: bool

    @property
    def change(self) -> float | None:
        if self.older_mean is None or self.newer_mean is None:
            return None
        return self.newer_mean - self.older_mean


@dataclass
class MonitoringReport:
    traces: int
    judged_now: int = 0
    judge_failures: dict[str, int] = field(default_factory=dict)
    judge_model: str | None = None
    drift: list[MetricDrift] = field(default_factory=list)
    window: tuple[str, str] | None = None

    @property
    def drifted(self) -> list[str]:
        return [item.metric for item in self.drift if item.drifted]

    def as_dict(self) -> dict[str, Any]:
        return {
            "traces": self.traces,
            "judged_now": self.judged_now,
            "judge_model": self.judge_model,
            "judge_failures": self.judge_failures,
            "window": list(self.window) if self.window else None,
            "drifted": self.drifted,
            "metrics": [
                {
                    "metric": item.metric,
                    "older_mean": item.older_mean,
                    "newer_mean": item.newer_mean,
                    "older_n": item.older_n,
                    "newer_n": item.newer_n,
                    "change": item.change,
                    "threshold": item.threshold,
                    "drifted": item.drifted,
                }
                for item in self.drift
            ],
        }

    def markdown(self) -> str:
        judge = f"judge `{self.judge_model}`" if self.judge_model else "no judge configured (judge scores not added)"
        lines = [
            "# Prompt monitoring",
            "",
            f"- traces sampled: {self.traces}" + (f" ({self.window[0]} .. {self.window[1]})" if self.window else ""),
            f"- judged in this run: {self.judged_now}, {judge}"
            + (f"; failures: {self.judge_failures}" if self.judge_failures else ""),
            f"- drift: {', '.join(self.drifted) if self.drifted else 'none'}",
            "",
            "| metric | older half | newer half | change | threshold | drift |",
            "| --- | ---: | ---: | ---: | --- | --- |",
        ]
        for item in self.drift:
            lines.append(
                f"| {item.metric} | {_fmt(item.older_mean, item.older_n)} | {_fmt(item.newer_mean, item.newer_n)} "
                f"| {_fmt(item.change)} | {item.threshold} | {'**yes**' if item.drifted else 'no'} |"
            )
        return "\n".join(lines) + "\n"


def _fmt(value: float | None, n: int | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" + (f" (n={n})" if n is not None else "")


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def compare_windows(
    traces: Sequence[MonitoredTrace], score_drift: float, relative_drift: float
) -> tuple[list[MetricDrift], tuple[str, str] | None]:
    """Split the traces by time into an older and a newer half and compare each metric's mean.

    A score (judge 1-3, user feedback 0-1) drifts when its mean moves by more than `score_drift`; tokens and
    latency when they move by more than `relative_drift` of the older mean. A metric needs at least one value
    in each half to be judged; with fewer than two traces nothing is compared.
    """
    ordered = sorted(traces, key=lambda trace: trace.started_at)
    if len(ordered) < 2:
        return [], None
    middle = len(ordered) // 2
    older, newer = ordered[:middle], ordered[middle:]
    window = (ordered[0].started_at.isoformat(timespec="seconds"), ordered[-1].started_at.isoformat(timespec="seconds"))
    results = []
    for metric in SCORE_METRICS + VOLUME_METRICS:
        older_values = [v for v in (trace.value(metric) for trace in older) if v is not None]
        newer_values = [v for v in (trace.value(metric) for trace in newer) if v is not None]
        if not older_values and not newer_values:
            continue
        older_mean, newer_mean = _mean(older_values), _mean(newer_values)
        if metric in SCORE_METRICS:
            threshold = f"|change| > {score_drift:g}"
            drifted = older_mean is not None and newer_mean is not None and abs(newer_mean - older_mean) > score_drift
        else:
            threshold = f"|change| > {relative_drift:.0%} of older"
            drifted = (
                older_mean is not None
                and newer_mean is not None
                and older_mean > 0
                and abs(newer_mean - older_mean) / older_mean > relative_drift
            )
        results.append(
            MetricDrift(metric, older_mean, newer_mean, len(older_values), len(newer_values), threshold, drifted)
        )
    return results, window


def traces_to_judge(traces: Sequence[MonitoredTrace]) -> list[MonitoredTrace]:
    """Traces with a query and an answer but without both judge scores yet (re-runs judge nothing twice)."""
    return [trace for trace in traces if trace.judgeable and not trace.judged]


class AnswerJudge(Protocol):
    """What monitoring needs of the LLM judge (`application.evaluation.judge.LLMJudge`)."""

    @property
    def model_id(self) -> str: ...

    def judge_answers(self, items: Sequence[AnswerToJudge]) -> JudgeRun: ...


def monitor_traces(
    store: TraceStore, sample: int, judge: AnswerJudge | None, score_drift: float, relative_drift: float
) -> MonitoringReport:
    """Judge the newest `sample` traces that lack judge scores (scores written back to the store and used in
    this report), then compare the older and newer half of the sample."""
    traces = store.recent(sample)
    report = MonitoringReport(traces=len(traces), judge_model=judge.model_id if judge is not None else None)
    pending = traces_to_judge(traces) if judge is not None else []
    if judge is not None and pending:
        run = judge.judge_answers([AnswerToJudge(instruction=t.query or "", answer=t.answer or "") for t in pending])
        report.judge_failures = dict(run.failures)
        judged = {}
        for trace, outcome in zip(pending, run.outcomes, strict=True):
            if outcome.verdict is None:
                continue
            scores = dict(trace.scores)
            for criterion, name in JUDGE_SCORES.items():
                value = float(outcome.verdict.score(criterion))
                store.score(trace.trace_id, name, value, outcome.verdict.justification(criterion))
                scores[name] = value
            judged[trace.trace_id] = replace(trace, scores=scores)
        report.judged_now = len(judged)
        traces = [judged.get(trace.trace_id, trace) for trace in traces]
    report.drift, report.window = compare_windows(traces, score_drift, relative_drift)
    return report
