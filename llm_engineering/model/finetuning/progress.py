"""Training progress in the log: steps done of the total, the mean step time, the time left, and the time budget.

`step_estimate` is the pure arithmetic (unit-tested); `StepProgress` is the transformers callback that
logs it and, when the stage has a time budget (`max_minutes`), ends training once the budget is spent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from llm_engineering.application.progress import Progress, format_duration

# A line at most this often (and for the first and the last step): a CPU step takes 10-40 s, so every
# step is logged there, while a GPU run of thousands of short steps does not flood the log.
LOG_EVERY_S = 10.0


def step_estimate(step: int, max_steps: int, elapsed_s: float, budget_s: float | None = None) -> str:
    """One line for optimizer step `step` of `max_steps`, `elapsed_s` into the training loop.

    The time left is the remaining steps at the mean step time so far; with a time budget (`budget_s`)
    it is whichever ends first, the steps or the budget, and the line says which. E.g.
    "step 4/16 after 1m00s (15.0 s/step): about 3m00s left" or, budgeted,
    "step 4/120 after 1m00s (15.0 s/step): about 8m00s left, when the 9-minute budget ends (120 steps
    would take 30m00s)".
    """
    progress = Progress(done=step, total=max(max_steps, step), elapsed_s=elapsed_s)
    line = f"step {step}/{progress.total} after {format_duration(elapsed_s)}"
    if progress.rate is not None:
        line += f" ({1 / progress.rate:.1f} s/step)"
    steps_left_s = progress.seconds_left
    if progress.done >= progress.total:
        return line
    if budget_s is None:
        return line if steps_left_s is None else f"{line}: about {format_duration(steps_left_s)} left"
    budget_left_s = max(0.0, budget_s - elapsed_s)
    budget = f"the {budget_s / 60:g}-minute budget"
    if steps_left_s is None:
        return f"{line}: {format_duration(budget_left_s)} left of {budget}"
    if budget_left_s < steps_left_s:
        all_steps_s = elapsed_s + steps_left_s
        return (
            f"{line}: about {format_duration(budget_left_s)} left, when {budget} ends "
            f"({progress.total} steps would take {format_duration(all_steps_s)})"
        )
    return f"{line}: about {format_duration(steps_left_s)} left ({format_duration(budget_left_s)} left of {budget})"


class StepProgress:
    """A TrainerCallback logging `step_estimate` after optimizer steps; with `budget_minutes` it also
    stops training once the loop has run that long (transformers calls whichever hooks exist)."""

    def __init__(
        self,
        budget_minutes: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
        log_every_s: float = LOG_EVERY_S,
    ) -> None:
        self.budget_s = budget_minutes * 60.0 if budget_minutes else None
        self.started: float | None = None
        self.last_logged: float | None = None
        self._clock = clock
        self._log_every_s = log_every_s

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = self._clock()
        self.last_logged = None

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.started is None:
            return control
        now = self._clock()
        elapsed = now - self.started
        out_of_budget = self.budget_s is not None and elapsed >= self.budget_s
        if out_of_budget:
            control.should_training_stop = True
        last = state.global_step >= state.max_steps or out_of_budget
        if last or self.last_logged is None or now - self.last_logged >= self._log_every_s:
            self.last_logged = now
            line = step_estimate(state.global_step, state.max_steps, elapsed, self.budget_s)
            logger.info(f"{line}; the time budget is spent: stopping" if out_of_budget else line)
        return control

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)
