"""Confidence intervals for evaluation scores: a seeded percentile bootstrap of the mean, so reports can say
how far a difference between two models could be noise. Pure numpy, deterministic for a given seed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Resample means are computed in blocks of about this many drawn values, so memory stays bounded whatever
# the number of samples; the block size is fixed, so results depend only on the inputs and the seed.
_BLOCK_VALUES = 1_000_000


@dataclass(frozen=True)
class MeanCI:
    """The mean of `count` values and its confidence interval [low, high]."""

    mean: float
    low: float
    high: float
    count: int


def bootstrap_mean_ci(
    values: Sequence[float], confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> MeanCI:
    """Mean of `values` with a percentile-bootstrap confidence interval at level `confidence`, from
    `resamples` resamples drawn with `numpy.random.default_rng(seed)`: the same inputs give the same interval.

    Raises ValueError for no values, non-finite values, a confidence outside (0, 1) or resamples < 1.
    A single value has no spread: low == high == mean.
    """
    data = _validated(values, confidence, resamples)
    mean = float(data.mean())
    if data.size == 1:
        return MeanCI(mean=mean, low=mean, high=mean, count=1)
    means = _resample_means(data, resamples, np.random.default_rng(seed))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return MeanCI(mean=mean, low=float(low), high=float(high), count=int(data.size))


def _validated(values: Sequence[float], confidence: float, resamples: int) -> np.ndarray:
    """`values` as a float array, after checking the arguments."""
    data = np.asarray(list(values), dtype=np.float64)
    if data.size == 0:
        raise ValueError("bootstrap_mean_ci needs at least one value, got an empty sequence")
    if not np.all(np.isfinite(data)):
        raise ValueError("bootstrap_mean_ci needs finite values (got NaN or infinity)")
    if not (0.0 < confidence < 1.0) or math.isnan(confidence):
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    return data


def _resample_means(data: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of `resamples` samples of data.size values drawn from `data` with replacement."""
    rows_per_block = max(1, _BLOCK_VALUES // data.size)
    means = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, rows_per_block):
        rows = min(rows_per_block, resamples - start)
        indices = rng.integers(0, data.size, size=(rows, data.size))
        means[start : start + rows] = data[indices].mean(axis=1)
    return means
