"""The monitoring job's `TraceStore` over Opik: the newest `/rag` traces of the project, and feedback
scores written back to them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from llm_engineering.application.operations.prompt_monitoring import VOLUME_METRICS, MonitoredTrace
from llm_engineering.infrastructure import opik_tracing

RAG_TRACE_NAME = "rag"


def to_monitored(trace: Any) -> MonitoredTrace:
    """An Opik `TracePublic` as a `MonitoredTrace` (query and answer from the trace's input/output)."""
    inputs = trace.input if isinstance(trace.input, dict) else {}
    outputs = trace.output if isinstance(trace.output, dict) else {}
    metadata = trace.metadata if isinstance(trace.metadata, dict) else {}
    metrics = {name: float(metadata[name]) for name in VOLUME_METRICS if isinstance(metadata.get(name), int | float)}
    scores = {score.name: float(score.value) for score in trace.feedback_scores or [] if score.value is not None}
    started = trace.start_time if trace.start_time.tzinfo else trace.start_time.replace(tzinfo=UTC)
    return MonitoredTrace(
        trace_id=str(trace.id),
        started_at=started,
        query=inputs.get("query") if isinstance(inputs.get("query"), str) else None,
        answer=outputs.get("answer") if isinstance(outputs.get("answer"), str) else None,
        metrics=metrics,
        scores=scores,
    )


class OpikTraceStore:
    """Reads `rag` traces of OPIK_PROJECT_NAME, newest first; writes feedback scores on them."""

    def __init__(self, client: Any | None = None, project_name: str | None = None):
        self.client = client or opik_tracing.opik_client()
        self.project_name = project_name or opik_tracing.project_name()

    def recent(self, limit: int) -> list[MonitoredTrace]:
        traces = self.client.search_traces(
            project_name=self.project_name, filter_string=f'name = "{RAG_TRACE_NAME}"', max_results=limit
        )
        monitored = [to_monitored(trace) for trace in traces if trace.start_time is not None]
        return sorted(monitored, key=lambda trace: trace.started_at or datetime.min.replace(tzinfo=UTC))[-limit:]

    def score(self, trace_id: str, name: str, value: float, reason: str | None = None) -> bool:
        return opik_tracing.log_feedback(trace_id, name, value, reason)
