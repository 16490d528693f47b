"""`Deadline`: the time left, cancellation with interrupts, bounded waits, and `current_deadline()`."""

import threading
import time

import pytest

from llm_engineering.application.deadline import Deadline, current_deadline, holding, pause, within
from llm_engineering.application.errors import DeadlineExceededError, RequestCancelledError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_time_left_and_limits_follow_the_clock():
    clock = Clock()
    deadline = Deadline(10, clock=clock)
    assert deadline.remaining() == 10 and deadline.limit(90) == 10 and deadline.limit(3) == 3
    clock.now += 7
    assert deadline.remaining() == pytest.approx(3) and not deadline.expired
    clock.now += 5
    assert deadline.remaining() == 0 and deadline.expired
    with pytest.raises(DeadlineExceededError, match="10s deadline"):
        deadline.limit(90)
    assert isinstance(DeadlineExceededError("x"), TimeoutError)  # answered 504 like any timeout
    with pytest.raises(ValueError):
        Deadline(-1)


def test_without_a_timeout_only_cancellation_ends_the_work():
    deadline = Deadline(None)
    assert deadline.remaining() is None and deadline.limit(5) == 5
    deadline.check()
    deadline.cancel("the client left")
    with pytest.raises(RequestCancelledError, match="the client left"):
        deadline.check()


def test_cancel_runs_each_interrupt_once_and_late_ones_at_once():
    deadline = Deadline(60)
    calls: list[str] = []
    with deadline.interrupts(lambda: calls.append("reading")):
        deadline.cancel()
        deadline.cancel()  # a second cancel changes nothing
    with deadline.interrupts(lambda: calls.append("late")):
        pass
    with deadline.interrupts(lambda: calls.append("never")):
        pass
    assert calls == ["reading", "late", "never"]  # registered after the cancel: called when registered


def test_an_interrupt_ended_with_its_block_is_not_called():
    deadline = Deadline(60)
    calls: list[str] = []
    with deadline.interrupts(lambda: calls.append("done")):
        pass
    deadline.cancel()
    assert calls == []


def test_a_failing_interrupt_does_not_stop_the_others():
    deadline = Deadline(60)
    calls: list[str] = []

    def broken() -> None:
        raise OSError("already closed")

    with deadline.interrupts(broken), deadline.interrupts(lambda: calls.append("second")):
        deadline.cancel()
    assert calls == ["second"]


def test_sleep_ends_early_when_cancelled_or_at_the_deadline():
    deadline = Deadline(60)
    threading.Timer(0.1, deadline.cancel).start()
    started = time.monotonic()
    with pytest.raises(RequestCancelledError):
        deadline.sleep(30)
    assert time.monotonic() - started < 10
    with pytest.raises(DeadlineExceededError):
        Deadline(0.05).sleep(30)


def test_holding_a_lock_waits_no_longer_than_the_deadline():
    lock = threading.Lock()
    lock.acquire()  # held by "another request"
    started = time.monotonic()
    with within(Deadline(0.3)), pytest.raises(DeadlineExceededError), holding(lock):
        pass
    assert time.monotonic() - started < 10
    lock.release()
    with within(Deadline(5)), holding(lock):
        assert lock.locked()
    assert not lock.locked()
    with holding(lock):  # no deadline: a plain `with lock`
        assert lock.locked()


def test_current_deadline_is_the_innermost_within_and_pause_obeys_it():
    outer, inner = Deadline(60), Deadline(0.05)
    assert current_deadline() is None
    with within(outer):
        with within(inner):
            assert current_deadline() is inner
            with pytest.raises(DeadlineExceededError):
                pause(30)
        assert current_deadline() is outer
    assert current_deadline() is None
    pause(0)  # no deadline: time.sleep
