"""Plots and HTML for evaluation reports: score distributions per metric, per-category means, retrieval
metrics per group, a self-contained HTML page (inline PNGs, no external assets) and the report folder on
disk (report.md, report.json, report.html, PNGs).

matplotlib is imported inside the functions and drawn through its Agg canvas directly (no pyplot), so
importing this module is cheap and never switches a global backend.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_engineering.model.evaluation.report import (
    OFFLINE_LINE,
    SOURCES,
    EvaluationReport,
    category_table,
    interval,
    is_best,
    judge_line,
    method_line,
    number,
    render_markdown,
)
from llm_engineering.model.evaluation.retrieval_report import (
    RETRIEVAL_LINE,
    RetrievalReport,
    render_retrieval_markdown,
    retrieval_cell,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Report = EvaluationReport | RetrievalReport

SCORE_DISTRIBUTIONS = "score_distributions.png"
CATEGORY_MEANS = "category_means.png"
RETRIEVAL_METRICS = "retrieval_metrics.png"
PLOT_NAMES = (SCORE_DISTRIBUTIONS, CATEGORY_MEANS, RETRIEVAL_METRICS)
DPI = 100
_LABEL_CHARS = 24


def score_distributions_png(report: EvaluationReport) -> bytes:
    """PNG: one subplot per metric, a box plot plus the individual scores of each model side by side; the
    tick label gives the scored count and the failures (which are not drawn)."""
    import numpy as np

    figure, axes = _grid(len(report.metrics))
    rng = np.random.default_rng(0)  # fixed jitter: the same report draws the same picture
    for ax, info in zip(axes, report.metrics, strict=False):
        series = {model: _scored(report, model, info.metric) for model in report.models}
        positions = list(range(1, len(series) + 1))
        filled = [(pos, values) for pos, values in zip(positions, series.values(), strict=True) if values]
        if filled:
            ax.boxplot([values for _, values in filled], positions=[pos for pos, _ in filled], widths=0.5)
            for pos, values in filled:
                jitter = rng.uniform(-0.12, 0.12, size=len(values))
                # colour by model position, so a model keeps its colour across metrics and plots
                ax.scatter(np.full(len(values), pos) + jitter, values, s=8, alpha=0.4, color=f"C{pos - 1}")
        labels = []
        for model in report.models:
            row = report.row(model, info.metric)
            counts = f"n={row.count}, failed {row.failures}" if row else "not scored"
            labels.append(f"{_short(model)}\n({counts})")
        ax.set_xticks(positions, labels, fontsize=8)
        ax.set_xlim(0.4, len(positions) + 0.6)
        ax.set_title(_metric_title(info.metric, info.source, info.higher_is_better), fontsize=10)
        if not filled:
            ax.text(0.5, 0.5, "no scored samples", ha="center", va="center", transform=ax.transAxes)
    figure.suptitle(f"Score distributions: {_short(report.title, 80)}")
    return _png(figure)


def category_means_png(report: EvaluationReport) -> bytes:
    """PNG: one subplot per metric, the mean of each model per category as grouped bars (no bar where a
    model has no scored sample in the category)."""
    categories = sorted({row.category for row in report.category_rows})
    means = {(row.model, row.metric, row.category): row.mean for row in report.category_rows}
    figure, axes = _grid(len(report.metrics))
    width = 0.8 / max(1, len(report.models))
    for ax, info in zip(axes, report.metrics, strict=False):
        for index, model in enumerate(report.models):
            heights = [means.get((model, info.metric, category)) for category in categories]
            xs = [pos + (index - (len(report.models) - 1) / 2) * width for pos in range(len(categories))]
            drawn = [(x, height) for x, height in zip(xs, heights, strict=True) if height is not None]
            ax.bar([x for x, _ in drawn], [h for _, h in drawn], width=width, label=_short(model), color=f"C{index}")
        ax.set_xticks(range(len(categories)), [_short(category) for category in categories], fontsize=8)
        ax.set_title(_metric_title(info.metric, info.source, info.higher_is_better), fontsize=10)
    if report.metrics:
        handles, labels = axes[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside right upper", fontsize=8)
    figure.suptitle(f"Mean per category: {_short(report.title, 80)}")
    return _png(figure)


def retrieval_png(report: RetrievalReport) -> bytes:
    """PNG: the retrieval metrics (query count left out) as grouped bars, overall and per query type, and
    per category when there are categories."""
    metrics = [name for name in report.metric_names() if name != "queries"]
    panels: list[tuple[str, dict[str, dict[str, float]]]] = [
        ("overall and by query type", {"all": report.overall, **report.by_query_type})
    ]
    if report.by_category:
        panels.append(("by category", report.by_category))
    figure, axes = _grid(len(panels), columns=2)
    for ax, (heading, groups) in zip(axes, panels, strict=False):
        width = 0.8 / max(1, len(groups))
        for index, (group, values) in enumerate(groups.items()):
            xs = [pos + (index - (len(groups) - 1) / 2) * width for pos in range(len(metrics))]
            heights = [values.get(name, math.nan) for name in metrics]
            ax.bar(xs, heights, width=width, label=_short(group))
        ax.set_xticks(range(len(metrics)), metrics, fontsize=8)
        ax.set_ylim(bottom=0)
        ax.set_title(f"retrieval metrics {heading} (offline)", fontsize=10)
        ax.legend(fontsize=8)
    figure.suptitle(_short(report.title, 80))
    return _png(figure)


def report_plots(report: Report) -> dict[str, bytes]:
    """File name -> PNG bytes of every plot the report has data for (none for a report without metrics)."""
    if isinstance(report, RetrievalReport):
        return {RETRIEVAL_METRICS: retrieval_png(report)} if report.metric_names() else {}
    plots: dict[str, bytes] = {}
    if report.metrics:
        plots[SCORE_DISTRIBUTIONS] = score_distributions_png(report)
        if report.category_rows:
            plots[CATEGORY_MEANS] = category_means_png(report)
    return plots


def render_html(report: Report, plots: Mapping[str, bytes] | None = None) -> str:
    """A self-contained HTML page of the report: the same tables and labels as the Markdown, then `plots`
    (file name -> PNG bytes; drawn with `report_plots` when None) inline as base64. All text is escaped."""
    if plots is None:
        plots = report_plots(report)
    images = [(name, base64.b64encode(data).decode("ascii")) for name, data in plots.items()]
    template = _environment().get_template("retrieval.html" if isinstance(report, RetrievalReport) else "model.html")
    context = _retrieval_context(report) if isinstance(report, RetrievalReport) else _model_context(report)
    return template.render(report=report, images=images, **context)


def write_report(report: Report, folder: Path) -> dict[str, Path]:
    """Write report.md, report.json, report.html and the PNGs into `folder` (created if needed), replacing
    earlier files, plot files this report no longer has included. Returns file name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    plots = report_plots(report)
    markdown = render_retrieval_markdown(report) if isinstance(report, RetrievalReport) else render_markdown(report)
    texts = {"report.md": markdown, "report.json": report.model_dump_json(indent=2)}
    texts["report.html"] = render_html(report, plots)
    written: dict[str, Path] = {}
    for name, text in texts.items():
        written[name] = folder / name
        written[name].write_text(text, encoding="utf-8")
    for name, data in plots.items():
        written[name] = folder / name
        written[name].write_bytes(data)
    for name in PLOT_NAMES:
        if name not in plots:  # a stale plot from an earlier report would contradict this one
            (folder / name).unlink(missing_ok=True)
    return written


def _model_context(report: EvaluationReport) -> dict[str, Any]:
    sections = []
    for source in SOURCES:
        rows = []
        for info in report.metrics_from(source):
            for model in report.models:
                row = report.row(model, info.metric)
                if row is not None:
                    rows.append(
                        {
                            "metric": info.metric,
                            "arrow": "↑" if info.higher_is_better else "↓",
                            "model": model,
                            "mean": number(row.mean),
                            "best": is_best(report, row),
                            "ci": interval(row.ci_low, row.ci_high),
                            "count": row.count,
                            "failures": row.failures,
                        }
                    )
        line = judge_line(report) if source == "judge" else OFFLINE_LINE
        empty = "No offline metrics reported." if source == "offline" and not rows else ""
        sections.append({"title": f"{source.capitalize()} metrics", "line": line, "rows": rows, "empty": empty})
    categories, table = category_table(report)
    category_rows = [
        {"metric": info.metric, "source": info.source, "model": model, "cells": cells} for info, model, cells in table
    ]
    return {
        "sections": sections,
        "categories": categories,
        "category_rows": category_rows,
        "ci_label": f"{report.confidence:.0%} CI",
        "method": method_line(report),
    }


def _retrieval_context(report: RetrievalReport) -> dict[str, Any]:
    columns = report.metric_names()

    def table(groups: Mapping[str, Mapping[str, float]]) -> list[dict[str, Any]]:
        return [
            {"group": group, "cells": [retrieval_cell(name, values.get(name)) for name in columns]}
            for group, values in groups.items()
        ]

    tables = [("Overall", "set", table({"all": report.overall}))]
    if report.by_query_type:
        tables.append(("Per query type", "query type", table(report.by_query_type)))
    if report.by_category:
        tables.append(("Per category", "category", table(report.by_category)))
    latency = None
    if report.latency_p50_ms is not None or report.latency_p95_ms is not None:
        latency = " ".join(
            f"{label} {value:.1f} ms" if value is not None else f"{label} n/a"
            for label, value in (("p50", report.latency_p50_ms), ("p95", report.latency_p95_ms))
        )
    return {"columns": columns, "tables": tables, "latency": latency, "line": RETRIEVAL_LINE}


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ report.title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.label { color: #555; font-style: italic; }
img { max-width: 100%; display: block; margin: 1em 0; }
</style></head><body>
<h1>{{ report.title }}</h1>
<p>Created {{ report.created_at.strftime("%Y-%m-%d %H:%M:%S %Z") }}.</p>
{% block body %}{% endblock %}
{% if report.notes %}<h2>Notes</h2><ul>{% for note in report.notes %}<li>{{ note }}</li>{% endfor %}</ul>{% endif %}
{% for name, data in images %}<img alt="{{ name }}" src="data:image/png;base64,{{ data }}">{% endfor %}
</body></html>
"""

_MODEL = """{% extends "page.html" %}{% block body %}
<p>Models: {{ report.models | join(", ") }}; {{ report.num_samples }} samples each.</p>
<p>{{ method }}</p>
{% for section in sections %}
<h2>{{ section.title }}</h2><p class="label">{{ section.line }}</p>
{% if section.empty %}<p>{{ section.empty }}</p>{% endif %}
{% if section.rows %}<table><tr><th>metric</th><th>model</th><th>mean</th><th>{{ ci_label }}</th>
<th>scored</th><th>failures</th></tr>
{% for row in section.rows %}<tr><td>{{ row.metric }} {{ row.arrow }}</td><td>{{ row.model }}</td>
<td class="num">{% if row.best %}<b>{{ row.mean }}</b>{% else %}{{ row.mean }}{% endif %}</td>
<td class="num">{{ row.ci }}</td><td class="num">{{ row.count }}</td><td class="num">{{ row.failures }}</td></tr>
{% endfor %}</table>{% endif %}
{% endfor %}
{% if category_rows %}<h2>Per category</h2><p>Mean (scored samples) per category.</p>
<table><tr><th>metric</th><th>source</th><th>model</th>{% for c in categories %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in category_rows %}<tr><td>{{ row.metric }}</td><td>{{ row.source }}</td><td>{{ row.model }}</td>
{% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>{% endfor %}</table>{% endif %}
{% if report.metrics %}<h2>Metrics</h2><ul>{% for info in report.metrics %}<li>{{ info.metric }} ({{ info.source }},
{{ "higher" if info.higher_is_better else "lower" }} is better){% if info.description %}: {{ info.description }}{% endif %}
</li>{% endfor %}</ul>{% endif %}
{% endblock %}"""

_RETRIEVAL = """{% extends "page.html" %}{% block body %}
<p class="label">{{ line }}</p>
{% if report.settings %}<h2>Settings</h2><ul>{% for key, value in report.settings.items() %}
<li>{{ key }}: {{ value }}</li>{% endfor %}</ul>{% endif %}
{% for title, label, rows in tables %}<h2>{{ title }}</h2>
<table><tr><th>{{ label }}</th>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in rows %}<tr><td>{{ row.group }}</td>{% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}
</tr>{% endfor %}</table>{% endfor %}
{% if latency %}<h2>Latency</h2><p>{{ latency }} per query.</p>{% endif %}
{% endblock %}"""


def _environment() -> Any:
    # Autoescape everything: model names, notes and titles come from configs and must not inject markup.
    from jinja2 import DictLoader, Environment

    loader = DictLoader({"page.html": _PAGE, "model.html": _MODEL, "retrieval.html": _RETRIEVAL})
    return Environment(loader=loader, autoescape=True)


def _grid(panels: int, columns: int = 3) -> tuple[Figure, list[Axes]]:
    """A figure with `panels` subplots (at least one), `columns` wide; unused cells hidden."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = max(1, panels)
    ncols = min(columns, panels)
    nrows = math.ceil(panels / ncols)
    figure = Figure(figsize=(4.8 * ncols, 3.8 * nrows + 0.6), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = list(figure.subplots(nrows, ncols, squeeze=False).flat)
    for ax in axes[panels:]:
        ax.set_visible(False)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _scored(report: EvaluationReport, model: str, metric: str) -> list[float]:
    for scores in report.scores:
        if scores.model == model:
            for metric_scores in scores.metrics:
                if metric_scores.metric == metric:
                    return [value for value in metric_scores.values if value is not None]
    return []


def _metric_title(metric: str, source: str, higher_is_better: bool) -> str:
    return f"{_short(metric)} ({source}, {'higher' if higher_is_better else 'lower'} is better)"


def _short(text: str, limit: int = _LABEL_CHARS) -> str:
    """One line, cut at `limit` characters: labels must not push the axes off the figure."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
