"""How long each quickstart step took where it was measured, and what to expect on the machine running it.

The reference machine: 2 shared vCPUs (AMD EPYC), 23 GiB of memory, other jobs (a training run, tests,
benches) on the same cores, load average 4-5. A step's figures are its fastest run (a later one) and its
slowest (a first run on a fresh checkout, which also creates the ZenML store, exports the embedding model
and joins the GGUF).

`expected_range` scales them to this machine by its load per core (the 1-minute load average over the
core count) and its core count, and keeps the measured range inside; `estimate_note` says it in one line.
Pure functions of a `Machine`, so the scaling is unit-tested without a busy machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

REFERENCE_CORES = 2
REFERENCE_LOAD = 4.5  # the load average while the figures below were measured (4-5)
# A quieter or larger machine is faster, but by how much was not measured for every step: the largest gap
# seen is embedding, 43 chunks/s in the feature pipeline's bench (docs/feature-pipeline.md) against 15-19
# chunks/s at load 4-5 (0.4 of the time).
MIN_SLOWDOWN = 0.4
# More cores do not make a step proportionally faster (the LLM runs on one thread, ZenML's bookkeeping is
# serial): at most twice as fast as on the reference machine, and at most twice as slow on one core.
MAX_CORE_SPEEDUP = 2.0
# The verdict: "expect longer" above this factor, "expect less" below its inverse.
LONGER_ABOVE = 1.3

Range = tuple[float, float]


@dataclass(frozen=True)
class StepEstimate:
    """Seconds a step took on the reference machine: the fastest and the slowest run measured."""

    low_s: float
    high_s: float

    @property
    def seconds(self) -> Range:
        return min(self.low_s, self.high_s), max(self.low_s, self.high_s)


# Measured with `poe quickstart` on the reference machine (four runs on a fresh checkout, two later runs;
# later runs find the local LLM already up), except the `transformers serve` engine: the `bench-llm-engines`
# figures (docs/serving.md) on the same machine at the same load (start 17.9 s; conversion 88.7 s before it the
# first time).
STEPS: dict[str, StepEstimate] = {
    "warehouse": StepEstimate(low_s=0.0, high_s=0.5),
    "local_llm_llamacpp": StepEstimate(low_s=0.3, high_s=6.0),
    "local_llm_transformers": StepEstimate(low_s=18, high_s=107),
    "corpus": StepEstimate(low_s=0.1, high_s=0.4),
    "feature_pipeline": StepEstimate(low_s=29, high_s=63),
    "api": StepEstimate(low_s=8.7, high_s=13.3),
    "rag": StepEstimate(low_s=8.7, high_s=11.1),
}


@dataclass(frozen=True)
class Machine:
    """The cores this process may use and the 1-minute load average (runnable processes, all cores)."""

    cores: int
    load: float

    @classmethod
    def current(cls) -> Machine:
        """This machine now; a platform without a load average reads as idle."""
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = 0.0
        return cls(cores=max(1, cores), load=max(0.0, load))


def core_factor(cores: int) -> float:
    """Time on `cores` relative to the reference machine's 2: 0.5 (4 cores and more) to 2 (1 core)."""
    return min(MAX_CORE_SPEEDUP, max(1 / MAX_CORE_SPEEDUP, REFERENCE_CORES / max(1, cores)))


def load_factor(machine: Machine) -> float:
    """Time at `machine`'s load per core relative to the reference load: a job sharing C cores with L
    runnable processes gets about C / (C + L) of them, so its time grows as 1 + L / C."""
    busy = 1 + machine.load / max(1, machine.cores)
    reference = 1 + REFERENCE_LOAD / REFERENCE_CORES
    return busy / reference


def slowdown(machine: Machine) -> float:
    """How much longer than on the reference machine a step should take on `machine` (below 1: less;
    never below `MIN_SLOWDOWN`, the largest speed-up measured)."""
    return max(MIN_SLOWDOWN, core_factor(machine.cores) * load_factor(machine))


def expected_range(estimate: StepEstimate, machine: Machine) -> Range:
    """Seconds `estimate`'s step should take on `machine`: from the measured range to the range times
    `slowdown`, whichever way that goes. The scaling is a rough model (runs at load 3 and 4.5 took about
    the same), so the measured figures stay inside what is announced."""
    low, high = estimate.seconds
    factor = slowdown(machine)
    return min(low, low * factor), max(high, high * factor)


def format_range(seconds: Range) -> str:
    """The range read aloud: "under 1 s", "3-4 s", "about 20 s", "2-5 min", "40 s-3 min" (minutes from
    2 minutes on)."""
    low, high = sorted(seconds)
    if high < 1:
        return "under 1 s"
    if high >= 120:
        high_min = round(high / 60)
        if low < 60:
            return f"{max(1, round(low))} s-{high_min} min"
        low_min = round(low / 60)
        return f"about {high_min} min" if low_min == high_min else f"{low_min}-{high_min} min"
    low_s, high_s = max(1, round(low)), round(high)
    return f"about {high_s} s" if low_s == high_s else f"{low_s}-{high_s} s"


def estimate_note(step: str, machine: Machine) -> str:
    """E.g. "took 29-63 s on 2 busy cores (load 4-5); this machine: 2 cores, load 1.0 -> expect less,
    13-63 s". Raises KeyError for a step not in `STEPS`."""
    estimate = STEPS[step]
    if estimate.seconds[1] < 1:
        return "takes under 1 s"
    factor = slowdown(machine)
    verdict = (
        "expect longer, " if factor > LONGER_ABOVE else "expect less, " if factor < 1 / LONGER_ABOVE else "expect "
    )
    return (
        f"took {format_range(estimate.seconds)} on {REFERENCE_CORES} busy cores (load 4-5); "
        f"this machine: {machine.cores} core{'s' if machine.cores > 1 else ''}, load {machine.load:.1f} -> "
        f"{verdict}{format_range(expected_range(estimate, machine))}"
    )
