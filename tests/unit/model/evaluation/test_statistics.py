"""Bootstrap confidence interval of the mean: known means, seeded determinism, edge cases."""

from __future__ import annotations

import dataclasses

import pytest

from llm_engineering.model.evaluation.statistics import MeanCI, bootstrap_mean_ci

SCORES = [3.0, 4.0, 2.0, 5.0, 4.0, 3.0, 1.0, 5.0, 4.0, 2.0]


def test_mean_and_count_are_exact_and_interval_contains_mean():
    ci = bootstrap_mean_ci(SCORES)
    assert ci.mean == pytest.approx(3.3)
    assert ci.count == len(SCORES)
    assert min(SCORES) <= ci.low < ci.mean < ci.high <= max(SCORES)


def test_same_seed_same_interval_and_other_seed_differs():
    assert bootstrap_mean_ci(SCORES, seed=7) == bootstrap_mean_ci(SCORES, seed=7)
    assert bootstrap_mean_ci(SCORES, seed=7) != bootstrap_mean_ci(SCORES, seed=8)


def test_higher_confidence_gives_wider_interval():
    narrow = bootstrap_mean_ci(SCORES, confidence=0.5)
    wide = bootstrap_mean_ci(SCORES, confidence=0.99)
    assert wide.low <= narrow.low and narrow.high <= wide.high
    assert wide.high - wide.low > narrow.high - narrow.low


def test_single_value_has_no_spread():
    assert bootstrap_mean_ci([2.5]) == MeanCI(mean=2.5, low=2.5, high=2.5, count=1)


def test_constant_values_give_a_point_interval():
    ci = bootstrap_mean_ci([4.0] * 5)
    assert ci.low == pytest.approx(4.0) and ci.high == pytest.approx(4.0) and ci.mean == 4.0


def test_accepts_any_sequence_and_returns_plain_floats():
    ci = bootstrap_mean_ci((1, 2, 3), resamples=50)
    assert all(type(value) is float for value in (ci.mean, ci.low, ci.high))
    assert type(ci.count) is int


def test_result_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        bootstrap_mean_ci(SCORES).mean = 0.0  # type: ignore[misc]


def test_empty_input_is_rejected_clearly():
    with pytest.raises(ValueError, match="at least one value"):
        bootstrap_mean_ci([])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"values": [1.0, float("nan")]}, "finite"),
        ({"values": [1.0, 2.0], "confidence": 1.0}, "confidence"),
        ({"values": [1.0, 2.0], "confidence": 0.0}, "confidence"),
        ({"values": [1.0, 2.0], "confidence": float("nan")}, "confidence"),
        ({"values": [1.0, 2.0], "resamples": 0}, "resamples"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_mean_ci(**kwargs)
