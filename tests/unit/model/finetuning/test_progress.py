"""Training progress lines (steps of the total, mean step time, time left, budget) and the budget stop."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from loguru import logger

from llm_engineering.model.finetuning.progress import StepProgress, step_estimate


def test_without_a_budget_the_time_left_comes_from_the_mean_step_time():
    assert step_estimate(4, 16, 60.0) == "step 4/16 after 1m00s (15.0 s/step): about 3m00s left"


def test_the_last_step_says_its_pace_and_nothing_left():
    assert step_estimate(16, 16, 240.0) == "step 16/16 after 4m00s (15.0 s/step)"
    assert step_estimate(16, 16, 240.0, budget_s=540.0) == "step 16/16 after 4m00s (15.0 s/step)"


def test_with_a_budget_that_binds_the_budget_is_the_time_left():
    line = step_estimate(4, 120, 60.0, budget_s=540.0)
    assert line == (
        "step 4/120 after 1m00s (15.0 s/step): about 8m00s left, when the 9-minute budget ends "
        "(120 steps would take 30m00s)"
    )


def test_with_a_budget_that_does_not_bind_the_steps_are_the_time_left():
    line = step_estimate(4, 16, 60.0, budget_s=540.0)
    assert line == "step 4/16 after 1m00s (15.0 s/step): about 3m00s left (8m00s left of the 9-minute budget)"


def test_before_any_time_has_passed_there_is_no_estimate():
    assert step_estimate(0, 16, 0.0) == "step 0/16 after 0s"
    assert step_estimate(0, 16, 0.0, budget_s=240.0) == "step 0/16 after 0s: 4m00s left of the 4-minute budget"


def test_more_steps_than_planned_count_as_the_total():
    assert step_estimate(17, 16, 170.0).startswith("step 17/17 after 2m50s (10.0 s/step)")


@pytest.fixture
def lines() -> list[str]:
    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(str(message).strip()), level="INFO", format="{message}")
    yield messages
    logger.remove(sink)


def run_steps(callback: StepProgress, times: list[float], max_steps: int) -> SimpleNamespace:
    """Drive the callback as transformers does: train begin at times[0], step i ends at times[i]."""
    clock = iter(times)
    callback._clock = lambda: next(clock)
    control = SimpleNamespace(should_training_stop=False)
    state = SimpleNamespace(global_step=0, max_steps=max_steps)
    callback.on_train_begin(None, state, control)
    for step in range(1, len(times)):
        state.global_step = step
        callback.on_step_end(None, state, control)
        if control.should_training_stop:
            break
    return control


def test_without_a_budget_lines_are_spaced_out_and_training_is_never_stopped(lines):
    # Steps of 3 s: the first, then one at least 10 s after the last line, and the final step.
    control = run_steps(StepProgress(), [0, 3, 6, 9, 12, 15, 18], max_steps=6)
    assert not control.should_training_stop
    assert [line.split(" after")[0] for line in lines] == ["step 1/6", "step 5/6", "step 6/6"]


def test_a_budget_stops_training_and_says_so(lines):
    control = run_steps(StepProgress(budget_minutes=1), [0, 20, 40, 61, 80], max_steps=100)
    assert control.should_training_stop
    assert len(lines) == 3  # steps of 20 s: every one is logged, and step 3 ends the loop
    assert lines[-1].startswith("step 3/100 after 1m01s")
    assert lines[-1].endswith("the time budget is spent: stopping")


def test_unknown_hooks_are_no_ops():
    callback = StepProgress()
    assert callback.on_evaluate(None, None, None) is None
    with pytest.raises(AttributeError):
        callback.not_a_hook  # noqa: B018
