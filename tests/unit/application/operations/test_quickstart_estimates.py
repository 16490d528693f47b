"""The quickstart's time estimates: the measured table and how it scales to a machine's cores and load."""

from __future__ import annotations

import pytest

from llm_engineering.application.operations import quickstart_estimates as estimates
from llm_engineering.application.operations.quickstart_estimates import (
    STEPS,
    Machine,
    StepEstimate,
    estimate_note,
    expected_range,
    slowdown,
)

REFERENCE = Machine(cores=estimates.REFERENCE_CORES, load=estimates.REFERENCE_LOAD)


def test_the_reference_machine_expects_the_measured_figures():
    assert slowdown(REFERENCE) == pytest.approx(1.0)
    assert expected_range(StepEstimate(low_s=29, high_s=63), REFERENCE) == pytest.approx((29, 63))


def test_the_announced_range_runs_from_the_measured_figures_to_the_scaled_ones():
    estimate = StepEstimate(low_s=10, high_s=20)
    assert expected_range(estimate, Machine(cores=2, load=0.0)) == pytest.approx((4, 20))
    assert expected_range(estimate, Machine(cores=2, load=9.0)) == pytest.approx((10, 20 * 5.5 / 3.25))


def test_more_load_per_core_takes_longer_in_proportion_to_one_plus_load_per_core():
    # 2 cores: load 4.5 -> 1 + 2.25; load 9 -> 1 + 4.5.
    assert slowdown(Machine(cores=2, load=9.0)) == pytest.approx(5.5 / 3.25)
    loads = [slowdown(Machine(cores=2, load=load)) for load in (2.0, 4.5, 6.0, 12.0)]
    assert loads == sorted(loads) and loads[0] < 1 < loads[-1]


def test_a_quiet_or_large_machine_is_never_promised_more_than_the_measured_speed_up():
    assert slowdown(Machine(cores=2, load=0.0)) == estimates.MIN_SLOWDOWN
    assert slowdown(Machine(cores=64, load=0.0)) == estimates.MIN_SLOWDOWN


def test_cores_count_up_to_twice_either_way():
    assert estimates.core_factor(1) == 2.0
    assert estimates.core_factor(2) == 1.0
    assert estimates.core_factor(4) == estimates.core_factor(32) == 0.5
    # One core at the reference load per core (2.25) is twice as slow as the reference machine.
    assert slowdown(Machine(cores=1, load=2.25)) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("seconds", "reading"),
    [
        ((0.0, 0.3), "under 1 s"),
        ((3.5, 4.9), "4-5 s"),
        ((8.7, 9.4), "about 9 s"),
        ((29, 63), "29-63 s"),
        ((22, 131), "22 s-2 min"),
        ((130, 320), "2-5 min"),
        ((125, 140), "about 2 min"),
    ],
)
def test_ranges_read_in_seconds_then_minutes(seconds, reading):
    assert estimates.format_range(seconds) == reading


def test_the_note_says_the_reference_this_machine_and_a_verdict():
    busy = estimate_note("feature_pipeline", Machine(cores=2, load=9.0))
    assert busy == (
        "took 29-63 s on 2 busy cores (load 4-5); this machine: 2 cores, load 9.0 -> expect longer, 29-107 s"
    )
    assert estimate_note("feature_pipeline", REFERENCE).endswith("load 4.5 -> expect 29-63 s")
    assert estimate_note("feature_pipeline", Machine(cores=1, load=0.2)).endswith(
        "1 core, load 0.2 -> expect less, 21-63 s"
    )
    assert "expect less, 12-63 s" in estimate_note("feature_pipeline", Machine(cores=2, load=0.1))
    assert estimate_note("warehouse", Machine(cores=2, load=9.0)) == "takes under 1 s"


def test_every_quickstart_step_has_figures_and_unknown_steps_fail_loudly():
    assert {"warehouse", "corpus", "feature_pipeline", "api", "rag"} <= STEPS.keys()
    # The local LLM step is looked up by engine name (`local_llm_<engine>`).
    assert {"local_llm_llamacpp", "local_llm_transformers"} <= STEPS.keys()
    assert all(0 <= estimate.low_s <= estimate.high_s for estimate in STEPS.values())
    with pytest.raises(KeyError):
        estimate_note("no_such_step", REFERENCE)


def test_this_machine_reads_its_cores_and_load(monkeypatch):
    monkeypatch.setattr(estimates.os, "getloadavg", lambda: (3.25, 2.0, 1.0))
    machine = Machine.current()
    assert machine.cores >= 1 and machine.load == 3.25

    def unavailable():
        raise OSError("no load average here")

    monkeypatch.setattr(estimates.os, "getloadavg", unavailable)
    assert Machine.current().load == 0.0
