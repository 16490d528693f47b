"""The RAG retrieval report: retrieval metrics overall, per query type and per category, with latency;
rendered as Markdown (and as HTML with a chart by `plots`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from llm_engineering.model.evaluation.report import markdown_text, number, utc_now

_RETRIEVAL_METRICS = ("queries", "recall", "mrr", "ndcg", "context_precision")


class RetrievalReport(BaseModel):
    """RAG retrieval results; the dicts have the shape of `retrieval_metrics.aggregate()` output
    ({"queries", "recall", "mrr", "ndcg", "context_precision"}), per query type and per category."""

    title: str
    settings: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    overall: dict[str, float]
    by_query_type: dict[str, dict[str, float]] = Field(default_factory=dict)
    by_category: dict[str, dict[str, float]] = Field(default_factory=dict)
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    created_at: datetime = Field(default_factory=utc_now)
    notes: list[str] = Field(default_factory=list)

    def metric_names(self) -> list[str]:
        """The columns: the aggregate() keys in their usual order, then any others in first-seen order."""
        groups = [self.overall, *self.by_query_type.values(), *self.by_category.values()]
        seen = dict.fromkeys(key for group in groups for key in group)
        return [key for key in _RETRIEVAL_METRICS if key in seen] + [
            key for key in seen if key not in _RETRIEVAL_METRICS
        ]


RETRIEVAL_LINE = "All retrieval metrics are offline (no judge): computed from the labelled relevant documents."


def render_retrieval_markdown(report: RetrievalReport) -> str:
    """The retrieval report as Markdown: settings, overall / per query type / per category tables, latency."""
    columns = report.metric_names()
    lines = [
        f"# {markdown_text(report.title)}",
        "",
        f"Created {report.created_at:%Y-%m-%d %H:%M:%S %Z}.",
        "",
        RETRIEVAL_LINE,
        "",
    ]
    if report.settings:
        lines += [
            "## Settings",
            "",
            *(f"- {markdown_text(key)}: {markdown_text(str(value))}" for key, value in report.settings.items()),
            "",
        ]
    lines += ["## Overall", "", *_retrieval_table({"all": report.overall}, columns, "set"), ""]
    for heading, label, groups in (
        ("Per query type", "query type", report.by_query_type),
        ("Per category", "category", report.by_category),
    ):
        if groups:
            lines += [f"## {heading}", "", *_retrieval_table(groups, columns, label), ""]
    if report.latency_p50_ms is not None or report.latency_p95_ms is not None:
        lines += [
            "## Latency",
            "",
            f"p50 {_ms(report.latency_p50_ms)}, p95 {_ms(report.latency_p95_ms)} per query.",
            "",
        ]
    if report.notes:
        lines += ["## Notes", "", *(f"- {markdown_text(note)}" for note in report.notes), ""]
    return "\n".join(lines)


def retrieval_cell(metric: str, value: float | None) -> str:
    """A retrieval table cell: the query count as an integer, metrics with 3 decimals."""
    if metric == "queries" and value is not None:
        return str(int(value))
    return number(value)


def _retrieval_table(groups: dict[str, dict[str, float]], columns: list[str], label: str) -> list[str]:
    lines = [f"| {label} | {' | '.join(markdown_text(c) for c in columns)} |", f"| --- |{' ---: |' * len(columns)}"]
    for group, values in groups.items():
        lines.append(f"| {markdown_text(group)} | {' | '.join(retrieval_cell(c, values.get(c)) for c in columns)} |")
    return lines


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"
