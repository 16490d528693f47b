"""Evaluation reports: per-sample scores of several models (base vs SFT vs DPO) turned into a results table
with bootstrap confidence intervals, per-category means and Markdown, plus the retrieval (RAG) report.

Pure pydantic models, so a report serialises as JSON (ZenML artifact, report.json on disk). Every metric
says where its scores came from: `judge` (an LLM judge scored the answer) or `offline` (computed without
a judge: held-out loss, similarity to the reference, retrieval metrics); the Markdown keeps them apart.
A failed or unscored sample is `None`: counted as a failure and left out of the mean, never imputed.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from llm_engineering.model.evaluation.comparison import PairedDifference, paired_differences
from llm_engineering.model.evaluation.statistics import bootstrap_mean_ci

MetricSource = Literal["judge", "offline"]
SOURCES: tuple[MetricSource, ...] = ("judge", "offline")  # judge metrics are listed first everywhere

_MARKDOWN_SPECIALS = str.maketrans({char: f"\\{char}" for char in "\\|`*_[]"})


def utc_now() -> datetime:
    return datetime.now(UTC)


class MetricScores(BaseModel):
    """One metric of one model: `values` aligned with the evaluated samples, None for a failed sample."""

    metric: str = Field(min_length=1)
    source: MetricSource
    higher_is_better: bool
    values: list[float | None]
    description: str = ""

    @field_validator("values")
    @classmethod
    def _finite(cls, values: list[float | None]) -> list[float | None]:
        # NaN would poison every mean; a sample that could not be scored must say so with None.
        if any(value is not None and not math.isfinite(value) for value in values):
            raise ValueError("scores must be finite numbers or None (failed sample), not NaN or infinity")
        return values


class ModelScores(BaseModel):
    """The metrics of one model under test (e.g. "base", "sft", "dpo")."""

    model: str = Field(min_length=1)
    metrics: list[MetricScores]


class MetricInfo(BaseModel):
    """What a metric is: its source, its direction and a one-line description."""

    metric: str
    source: MetricSource
    higher_is_better: bool
    description: str = ""


class MetricRow(BaseModel):
    """One line of the results table; mean and CI are None when no sample was scored."""

    model: str
    metric: str
    source: MetricSource
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    count: int
    failures: int


class CategoryRow(BaseModel):
    """Mean of one metric of one model over the samples of one category."""

    model: str
    metric: str
    category: str
    mean: float | None
    count: int
    failures: int


class EvaluationReport(BaseModel):
    """Results of several models on the same samples; `scores` and `categories` keep the per-sample data
    the plots are drawn from."""

    title: str
    created_at: datetime = Field(default_factory=utc_now)
    judge_model: str | None = None
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0
    models: list[str]
    metrics: list[MetricInfo]
    rows: list[MetricRow]
    category_rows: list[CategoryRow] = Field(default_factory=list)
    num_samples: int
    categories: list[str] | None = None
    scores: list[ModelScores]
    # Each later model minus the first, per sample (see `comparison.paired_differences`).
    differences: list[PairedDifference] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def row(self, model: str, metric: str) -> MetricRow | None:
        """The results row of `model` on `metric`, None if the model was not scored on it."""
        return next((row for row in self.rows if row.model == model and row.metric == metric), None)

    def metrics_from(self, source: MetricSource) -> list[MetricInfo]:
        return [info for info in self.metrics if info.source == source]


def build_model_report(
    models: Sequence[ModelScores],
    categories: Sequence[str] | None,
    title: str,
    confidence: float = 0.95,
    seed: int = 0,
    judge_model: str | None = None,
    notes: Sequence[str] = (),
    resamples: int = 2000,
) -> EvaluationReport:
    """Results table of `models` (in the order given): per model and metric the mean of the scored samples
    with its percentile-bootstrap CI at `confidence` (seeded: the same scores give the same report), the
    number scored and the failures (None values). `categories` (one per sample, or None) adds per-category
    means. A metric with no scored sample keeps its row, with mean and CI None.

    Raises ValueError for no models, a repeated model or metric, a metric whose source or direction differs
    between models, or values not aligned with `categories` (or, without categories, with each other).
    """
    infos = _metric_infos(models)
    num_samples = _check_alignment(models, categories)
    rows: list[MetricRow] = []
    category_rows: list[CategoryRow] = []
    category_names = sorted(set(categories)) if categories is not None else []
    for model in models:
        for scores in model.metrics:
            rows.append(_row(model.model, scores, confidence, resamples, seed))
            for category in category_names:
                picked = [value for value, own in zip(scores.values, categories or [], strict=True) if own == category]
                scored = [value for value in picked if value is not None]
                category_rows.append(
                    CategoryRow(
                        model=model.model,
                        metric=scores.metric,
                        category=category,
                        mean=sum(scored) / len(scored) if scored else None,
                        count=len(scored),
                        failures=len(picked) - len(scored),
                    )
                )
    return EvaluationReport(
        title=title,
        judge_model=judge_model,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        models=[model.model for model in models],
        metrics=infos,
        rows=rows,
        category_rows=category_rows,
        num_samples=num_samples,
        categories=list(categories) if categories is not None else None,
        scores=list(models),
        differences=paired_differences(models, confidence, resamples, seed),
        notes=list(notes),
    )


def best_by_metric(report: EvaluationReport) -> dict[str, str]:
    """metric -> the model with the best mean (highest or lowest by the metric's direction); on a tie the
    first model in report order. Metrics no model has a mean for are left out."""
    best: dict[str, str] = {}
    for info in report.metrics:
        candidates = [row for row in report.rows if row.metric == info.metric and row.mean is not None]
        if candidates:
            sign = 1.0 if info.higher_is_better else -1.0
            best[info.metric] = max(candidates, key=lambda row: sign * (row.mean or 0.0)).model
    return best


def is_best(report: EvaluationReport, row: MetricRow) -> bool:
    """Whether `row` holds the best mean of its metric (ties included) among two or more scored models: the
    rows the tables print in bold."""
    means = [other.mean for other in report.rows if other.metric == row.metric and other.mean is not None]
    if row.mean is None or len(means) < 2:
        return False
    higher = next(info.higher_is_better for info in report.metrics if info.metric == row.metric)
    return row.mean == (max(means) if higher else min(means))


def metric_means(report: EvaluationReport, model: str) -> dict[str, float]:
    """metric -> mean of `model` (the evaluation gate's input); metrics without a scored sample are left out,
    so a gate on them fails instead of comparing an imputed number. Raises ValueError for an unknown model."""
    if model not in report.models:
        raise ValueError(f"model {model!r} is not in the report (models: {', '.join(report.models)})")
    return {row.metric: row.mean for row in report.rows if row.model == model and row.mean is not None}


def judge_line(report: EvaluationReport) -> str:
    """Who scored the judge metrics, in one sentence (Markdown and HTML use the same words)."""
    has_judge_metrics = bool(report.metrics_from("judge"))
    if has_judge_metrics and report.judge_model:
        return f"Judge metrics scored by judge {report.judge_model}."
    if has_judge_metrics:
        return "Judge metrics scored by an LLM judge (judge model not recorded)."
    if report.judge_model:
        return f"Judge {report.judge_model} configured, but no judge metrics were reported."
    return "No judge configured: judge metrics absent."


OFFLINE_LINE = "Offline metrics need no judge: computed from the answers, references or model losses."


def render_markdown(report: EvaluationReport) -> str:
    """The report as Markdown: judge metrics table, offline metrics table, per-category table, notes.
    Numbers have 3 decimals, CIs read [low, high]; the best mean of each metric is bold."""
    lines = [
        f"# {markdown_text(report.title)}",
        "",
        f"Created {report.created_at:%Y-%m-%d %H:%M:%S %Z}. Models: {', '.join(markdown_text(m) for m in report.models)}; "
        + f"{report.num_samples} samples each.",
        "",
        method_line(report),
        "",
    ]
    for source in SOURCES:
        infos = report.metrics_from(source)
        lines += [
            f"## {source.capitalize()} metrics",
            "",
            markdown_text(judge_line(report)) if source == "judge" else OFFLINE_LINE,
        ]
        if infos:
            lines += ["", *_results_table(report, infos)]
        elif source == "offline":
            lines += ["", "No offline metrics reported."]
        lines.append("")
    if report.differences:
        lines += ["## Paired differences", "", *_differences_table(report), ""]
    if report.category_rows:
        lines += ["## Per category", "", "Mean (scored samples) per category.", "", *_category_table(report), ""]
    if report.metrics:
        lines += ["## Metrics", ""]
        lines += [
            f"- {markdown_text(info.metric)} ({info.source}, {'higher' if info.higher_is_better else 'lower'} is better)"
            + (f": {markdown_text(info.description)}" if info.description else "")
            for info in report.metrics
        ]
        lines.append("")
    if report.notes:
        lines += ["## Notes", "", *(f"- {markdown_text(note)}" for note in report.notes), ""]
    return "\n".join(lines)


def number(value: float | None) -> str:
    """3 decimals, 'n/a' for a missing value."""
    return "n/a" if value is None else f"{value:.3f}"


def interval(low: float | None, high: float | None) -> str:
    return "n/a" if low is None or high is None else f"[{low:.3f}, {high:.3f}]"


def category_table(report: EvaluationReport) -> tuple[list[str], list[tuple[MetricInfo, str, list[str]]]]:
    """The per-category table: sorted category names and, per metric (judge first) and model, one cell
    per category reading "mean (scored)" ("" where the model has no sample of that category)."""
    categories = sorted({row.category for row in report.category_rows})
    cells = {(row.model, row.metric, row.category): row for row in report.category_rows}
    table = []
    for source in SOURCES:
        for info in report.metrics_from(source):
            for model in report.models:
                found = [cells.get((model, info.metric, category)) for category in categories]
                if any(found):
                    table.append((info, model, [f"{number(row.mean)} ({row.count})" if row else "" for row in found]))
    return categories, table


def _metric_infos(models: Sequence[ModelScores]) -> list[MetricInfo]:
    """The metrics in first-seen order, checked for repeats and for agreement between models."""
    if not models:
        raise ValueError("build_model_report needs at least one model")
    names = [model.model for model in models]
    if len(set(names)) != len(names):
        raise ValueError(f"model names must be unique, got {names}")
    infos: dict[str, MetricInfo] = {}
    for model in models:
        own = [scores.metric for scores in model.metrics]
        if len(set(own)) != len(own):
            raise ValueError(f"model {model.model!r} lists a metric twice: {own}")
        for scores in model.metrics:
            info = MetricInfo(
                metric=scores.metric,
                source=scores.source,
                higher_is_better=scores.higher_is_better,
                description=scores.description,
            )
            known = infos.setdefault(scores.metric, info)
            if (known.source, known.higher_is_better) != (info.source, info.higher_is_better):
                raise ValueError(f"metric {scores.metric!r} has a different source or direction in {model.model!r}")
    return list(infos.values())


def _check_alignment(models: Sequence[ModelScores], categories: Sequence[str] | None) -> int:
    """The number of samples every metric's values must have."""
    lengths = {len(scores.values) for model in models for scores in model.metrics}
    expected = len(categories) if categories is not None else (lengths.pop() if len(lengths) == 1 else None)
    if expected is None and lengths:
        raise ValueError(f"metric values must be aligned with the same samples, got lengths {sorted(lengths)}")
    for model in models:
        for scores in model.metrics:
            if expected is not None and len(scores.values) != expected:
                raise ValueError(
                    f"{model.model}/{scores.metric} has {len(scores.values)} values for {expected} samples"
                )
    return expected or 0


def _row(model: str, scores: MetricScores, confidence: float, resamples: int, seed: int) -> MetricRow:
    scored = [value for value in scores.values if value is not None]
    failures = len(scores.values) - len(scored)
    base = {"model": model, "metric": scores.metric, "source": scores.source}
    if not scored:
        return MetricRow(**base, mean=None, ci_low=None, ci_high=None, count=0, failures=failures)
    ci = bootstrap_mean_ci(scored, confidence=confidence, resamples=resamples, seed=seed)
    return MetricRow(**base, mean=ci.mean, ci_low=ci.low, ci_high=ci.high, count=ci.count, failures=failures)


def method_line(report: EvaluationReport) -> str:
    """How means, intervals and failures were computed, in one paragraph."""
    return (
        f"Means with {report.confidence:.0%} percentile-bootstrap confidence intervals ({report.resamples} "
        f"resamples, seed {report.seed}). Failures are samples left unscored: counted, excluded from the "
        "means, never imputed."
    )


def _results_table(report: EvaluationReport, infos: Iterable[MetricInfo]) -> list[str]:
    ci_label = f"{report.confidence:.0%} CI"
    lines = [f"| metric | model | mean | {ci_label} | scored | failures |", "| --- | --- | ---: | --- | ---: | ---: |"]
    for info in infos:
        for model in report.models:
            row = report.row(model, info.metric)
            if row is None:
                continue
            mean = number(row.mean)
            if is_best(report, row):
                mean = f"**{mean}**"
            arrow = "↑" if info.higher_is_better else "↓"
            lines.append(
                f"| {markdown_text(info.metric)} {arrow} | {markdown_text(model)} | {mean} | {interval(row.ci_low, row.ci_high)} "
                f"| {row.count} | {row.failures} |"
            )
    return lines


def _differences_table(report: EvaluationReport) -> list[str]:
    baseline = markdown_text(report.differences[0].baseline)
    lines = [
        (
            f"Each model minus {baseline} on the same samples (mean difference, 95% bootstrap CI); better or worse "
            "only when the interval excludes 0."
        ),
        "",
        "| metric | model | difference | CI | pairs | verdict |",
        "| --- | --- | ---: | --- | ---: | --- |",
    ]
    for row in report.differences:
        lines.append(
            f"| {markdown_text(row.metric)} | {markdown_text(row.model)} | {row.mean:+.3f} | {interval(row.ci_low, row.ci_high)} | "
            f"{row.pairs} | {row.verdict} |"
        )
    return lines


def _category_table(report: EvaluationReport) -> list[str]:
    categories, table = category_table(report)
    lines = [
        f"| metric | source | model | {' | '.join(markdown_text(c) for c in categories)} |",
        f"| --- | --- | --- |{' ---: |' * len(categories)}",
    ]
    lines += [
        f"| {markdown_text(info.metric)} | {info.source} | {markdown_text(model)} | {' | '.join(cells)} |"
        for info, model, cells in table
    ]
    return lines


def markdown_text(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, HTML escaped, table/format characters escaped."""
    return html.escape(" ".join(text.split()), quote=False).translate(_MARKDOWN_SPECIALS)
