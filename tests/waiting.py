"""Waiting in tests without betting on the machine's speed.

A test that waits for a process, a server, a thread or a browser polls for the condition it needs and gives
up only at a generous ceiling, derived from the operation where the operation has a bound of its own (an API
request's deadline, a job's time budget) and `CEILING_S` otherwise. A passing test waits only as long as the
work takes; the ceiling is reached only by a test that fails anyway, which then says what it waited for.
Never a fixed sleep as a wait, never a timeout of a few seconds on work a busy machine may slow down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# What a wait for local work (a thread handing over, a process starting or stopping, a page redrawing) may
# take on a machine with two CPU-heavy processes beside the tests: far more than it takes on an idle one.
CEILING_S = 300.0
POLL_S = 0.05


def wait_until(
    condition: Callable[[], T],
    what: str | Callable[[], str],
    timeout_s: float = CEILING_S,
    poll_s: float = POLL_S,
) -> T:
    """`condition()`'s first truthy value, polled every `poll_s`; after `timeout_s` the test fails with
    `what` (a text, or a function giving one, e.g. the state the test saw) and how long it waited."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"still waiting after {timeout_s:g} s: {described}")
        time.sleep(poll_s)


def eventually(condition: Callable[[], object], timeout_s: float = CEILING_S, poll_s: float = POLL_S) -> bool:
    """Whether `condition()` became truthy within `timeout_s` (for tests that assert on it themselves)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)
    return True
