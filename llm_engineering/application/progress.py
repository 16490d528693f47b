"""Progress of a long job counted in units (chunks embedded, optimizer steps): rate, time left, one line.

Pure arithmetic on what the caller measured; the caller owns the clock and the logging. Embedding
(`preprocessing/feature_engineering.py`) and training (`model/finetuning/progress.py`) report with it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


def format_duration(seconds: float) -> str:
    """`seconds` as a short reading: "42s", "3m05s", "1h02m" (rounded to the unit shown)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be a finite number of seconds >= 0, got {seconds}")
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    minutes = round(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


@dataclass(frozen=True)
class Progress:
    """`done` of `total` units after `elapsed_s` seconds of work.

    The rate is the mean over the whole job so far, so one slow unit (a model loading on first use)
    moves the estimate less than a rate over the last unit would.
    """

    done: int
    total: int
    elapsed_s: float

    def __post_init__(self) -> None:
        if self.total < 0 or self.done < 0:
            raise ValueError(f"progress needs 0 <= done and 0 <= total, got {self.done}/{self.total}")
        if not math.isfinite(self.elapsed_s) or self.elapsed_s < 0:
            raise ValueError(f"elapsed time must be finite and >= 0, got {self.elapsed_s}")

    @property
    def fraction(self) -> float:
        """Share done, 0 to 1 (1 for an empty job; more done than planned counts as all)."""
        return 1.0 if self.total == 0 else min(1.0, self.done / self.total)

    @property
    def rate(self) -> float | None:
        """Units per second so far; None before the first unit or the first measurable instant."""
        if self.done == 0 or self.elapsed_s <= 0:
            return None
        return self.done / self.elapsed_s

    @property
    def seconds_left(self) -> float | None:
        """Remaining units at the mean time per unit so far; None while there is no rate yet."""
        rate = self.rate
        if rate is None:
            return None if self.done < self.total else 0.0
        return max(0, self.total - self.done) / rate

    def describe(self, unit: str) -> str:
        """One line, e.g. "128/1115 chunks (11%) in 13s, 9.8 chunks/s, about 1m41s left".

        A rate under one unit a second reads as seconds per unit ("14.2 s/step"), which is easier to
        compare between runs than "0.07 steps/s".
        """
        line = f"{self.done}/{self.total} {unit}s ({self.fraction:.0%}) in {format_duration(self.elapsed_s)}"
        rate = self.rate
        if rate is None:
            return line
        speed = f"{rate:.1f} {unit}s/s" if rate >= 1 else f"{1 / rate:.1f} s/{unit}"
        left = self.seconds_left
        if left is None or self.done >= self.total:
            return f"{line}, {speed}"
        return f"{line}, {speed}, about {format_duration(left)} left"


class ProgressMeter:
    """Counts units of one job as they finish and measures the time since it was created."""

    def __init__(self, total: int, clock: Callable[[], float] = time.perf_counter) -> None:
        self.total = total
        self.done = 0
        self._clock = clock
        self._started = clock()

    def advance(self, units: int) -> Progress:
        """Record `units` more done; returns where the job stands now."""
        self.done += units
        return Progress(done=self.done, total=self.total, elapsed_s=max(0.0, self._clock() - self._started))
