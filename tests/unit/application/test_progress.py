"""Progress arithmetic shared by embedding and training: rate, time left, the one-line reading."""

from __future__ import annotations

import pytest

from llm_engineering.application.progress import Progress, ProgressMeter, format_duration


@pytest.mark.parametrize(
    ("seconds", "reading"),
    [(0, "0s"), (0.4, "0s"), (42.4, "42s"), (59.6, "1m00s"), (185, "3m05s"), (3599, "59m59s"), (3720, "1h02m")],
)
def test_durations_read_in_the_largest_useful_unit(seconds, reading):
    assert format_duration(seconds) == reading


@pytest.mark.parametrize("seconds", [-1.0, float("nan"), float("inf")])
def test_a_duration_must_be_finite_and_not_negative(seconds):
    with pytest.raises(ValueError, match="finite"):
        format_duration(seconds)


def test_time_left_is_the_remaining_units_at_the_mean_rate_so_far():
    progress = Progress(done=128, total=1115, elapsed_s=12.8)
    assert progress.rate == pytest.approx(10.0)
    assert progress.seconds_left == pytest.approx(98.7)
    assert progress.fraction == pytest.approx(128 / 1115)
    assert progress.describe("chunk") == "128/1115 chunks (11%) in 13s, 10.0 chunks/s, about 1m39s left"


def test_a_slow_unit_reads_as_seconds_per_unit():
    progress = Progress(done=4, total=16, elapsed_s=60)
    assert progress.seconds_left == pytest.approx(180)
    assert progress.describe("step") == "4/16 steps (25%) in 1m00s, 15.0 s/step, about 3m00s left"


def test_nothing_done_yet_has_no_rate_and_no_estimate():
    progress = Progress(done=0, total=10, elapsed_s=5)
    assert progress.rate is None and progress.seconds_left is None
    assert progress.describe("chunk") == "0/10 chunks (0%) in 5s"


def test_a_finished_job_says_its_rate_and_nothing_left():
    progress = Progress(done=8, total=8, elapsed_s=0.8)
    assert progress.seconds_left == 0
    assert progress.describe("chunk") == "8/8 chunks (100%) in 1s, 10.0 chunks/s"
    assert Progress(done=0, total=0, elapsed_s=0).fraction == 1.0


@pytest.mark.parametrize(("done", "total", "elapsed"), [(-1, 5, 1.0), (1, -5, 1.0), (1, 5, -1.0), (1, 5, float("nan"))])
def test_impossible_progress_is_refused(done, total, elapsed):
    with pytest.raises(ValueError):
        Progress(done=done, total=total, elapsed_s=elapsed)


def test_the_meter_counts_units_against_its_clock():
    ticks = iter([100.0, 104.0, 110.0])
    meter = ProgressMeter(total=192, clock=lambda: next(ticks))
    first = meter.advance(64)
    assert (first.done, first.elapsed_s) == (64, 4.0)
    second = meter.advance(64)
    assert (second.done, second.total, second.elapsed_s) == (128, 192, 10.0)
    assert second.seconds_left == pytest.approx(5.0)
