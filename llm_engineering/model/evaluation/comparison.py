"""Paired comparison of models on the same samples: the mean per-sample difference of each model from the
baseline (the first model) with a bootstrap CI. Pairing removes the between-question spread that makes the
per-model CIs overlap, so it answers "is SFT better than base on these questions?" directly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel

from llm_engineering.model.evaluation.statistics import bootstrap_mean_ci

if TYPE_CHECKING:
    from llm_engineering.model.evaluation.report import ModelScores


class PairedDifference(BaseModel):
    """`model` minus `baseline` on `metric`, over the samples both scored; `verdict` is better / worse when
    the CI excludes 0 (by the metric's direction), else "no clear difference"."""

    model: str
    baseline: str
    metric: str
    mean: float
    ci_low: float
    ci_high: float
    pairs: int
    verdict: str


def paired_differences(
    models: Sequence[ModelScores], confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> list[PairedDifference]:
    """Every later model against the first, per metric both have; metrics with no common scored sample
    are left out."""
    if len(models) < 2:
        return []
    baseline = models[0]
    base_metrics = {metric.metric: metric for metric in baseline.metrics}
    differences = []
    for model in models[1:]:
        for metric in model.metrics:
            base = base_metrics.get(metric.metric)
            if base is None:
                continue
            pairs = [
                own - other
                for own, other in zip(metric.values, base.values, strict=True)
                if own is not None and other is not None
            ]
            if not pairs:
                continue
            ci = bootstrap_mean_ci(pairs, confidence=confidence, resamples=resamples, seed=seed)
            differences.append(
                PairedDifference(
                    model=model.model,
                    baseline=baseline.model,
                    metric=metric.metric,
                    mean=ci.mean,
                    ci_low=ci.low,
                    ci_high=ci.high,
                    pairs=ci.count,
                    verdict=_verdict(ci.low, ci.high, metric.higher_is_better),
                )
            )
    return differences


def _verdict(low: float, high: float, higher_is_better: bool) -> str:
    if low > 0 or high < 0:
        improved = (low > 0) == higher_is_better
        return "better" if improved else "worse"
    return "no clear difference"
