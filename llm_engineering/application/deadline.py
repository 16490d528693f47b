"""A caller's deadline and cancellation, seen by the blocking code it runs in a worker thread.

The API gives each request one `Deadline` and runs its blocking work `within` it. Code below (the LLM
client, its retries, a wait on a lock) reads it with `current_deadline()` rather than from a parameter
on every call: it cuts its own timeouts to the time left, gives up once the deadline has passed, and is
interrupted when the caller cancels (the deadline passed on the event loop, or the client left). So no
work outlives the request that asked for it. Without a deadline (pipelines, tools) nothing changes.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar

from loguru import logger

from llm_engineering.application.errors import DeadlineExceededError, RequestCancelledError

# How often a bounded wait on a lock looks whether its caller cancelled meanwhile.
LOCK_POLL_S = 0.2

_current: ContextVar[Deadline | None] = ContextVar("llm_engineering_deadline", default=None)


class Deadline:
    """A point in time after which the work should stop, and a cancel switch (thread-safe).

    `timeout_s` None means no deadline (cancellation only). `cancel()` may come from any thread; it runs
    the callbacks registered with `interrupts` (e.g. closing a socket a worker thread is blocked on).
    """

    def __init__(self, timeout_s: float | None, clock: Callable[[], float] = time.monotonic):
        if timeout_s is not None and timeout_s < 0:
            raise ValueError("timeout_s must be >= 0")
        self.timeout_s = timeout_s
        self._clock = clock
        self._expires_at = None if timeout_s is None else clock() + timeout_s
        self._cancelled = threading.Event()
        self._reason = ""
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Deadline(timeout_s={self.timeout_s}, remaining={self.remaining()}, cancelled={self.cancelled})"

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def expired(self) -> bool:
        remaining = self.remaining()
        return remaining is not None and remaining <= 0

    def remaining(self) -> float | None:
        """Seconds left (0 once passed), or None without a deadline."""
        if self._expires_at is None:
            return None
        return max(0.0, self._expires_at - self._clock())

    def check(self) -> None:
        """Raise `RequestCancelledError` once cancelled, `DeadlineExceededError` once the deadline passed."""
        if self._cancelled.is_set():
            raise RequestCancelledError(self._reason)
        if self.expired:
            raise DeadlineExceededError(f"the {self.timeout_s:g}s deadline passed")

    def limit(self, seconds: float) -> float:
        """`seconds`, or the time left when that is shorter; raises (see `check`) when nothing is left."""
        self.check()
        remaining = self.remaining()
        return seconds if remaining is None else min(seconds, remaining)

    def cancel(self, reason: str = "the caller gave up") -> None:
        """Stop the work: later checks raise, and the registered interrupts run now (once)."""
        with self._lock:
            if self._cancelled.is_set():
                return
            self._reason = reason
            self._cancelled.set()
            callbacks = list(self._callbacks.values())
        for callback in callbacks:
            try:
                callback()
            except Exception as error:  # noqa: BLE001 - one failed interrupt must not stop the others
                logger.warning("Interrupting cancelled work failed: {}", error)

    @contextmanager
    def interrupts(self, callback: Callable[[], None]) -> Iterator[None]:
        """While the block runs, `cancel()` also calls `callback` (from the cancelling thread), e.g. to cut
        a connection the block is reading from; when already cancelled it is called at once."""
        with self._lock:
            key = next(self._ids)
            self._callbacks[key] = callback
            already = self._cancelled.is_set()
        if already:
            callback()
        try:
            yield
        finally:
            with self._lock:
                self._callbacks.pop(key, None)

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less when the deadline comes first; raises (see `check`) when it ends the wait."""
        self._cancelled.wait(self.limit(seconds))
        self.check()

    def acquire(self, lock: threading.Lock) -> None:
        """Take `lock`, waiting no longer than the time left; raises (see `check`) when that runs out."""
        while True:
            remaining = self.remaining()
            self.check()
            wait = LOCK_POLL_S if remaining is None else min(LOCK_POLL_S, remaining)
            if lock.acquire(timeout=wait):
                return


def current_deadline() -> Deadline | None:
    """The deadline of the work this thread runs for, or None outside of one."""
    return _current.get()


@contextmanager
def within(deadline: Deadline) -> Iterator[Deadline]:
    """Run the block under `deadline` (as seen by `current_deadline()` in this thread)."""
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


@contextmanager
def bounded(seconds: float) -> Iterator[Deadline]:
    """Run the block under a deadline `seconds` away, or the current deadline's when that comes first (a
    step's own time limit inside a request's); cancelling the current deadline cancels this one too."""
    outer = current_deadline()
    remaining = outer.remaining() if outer is not None else None
    inner = Deadline(seconds if remaining is None else min(seconds, remaining))
    with outer.interrupts(inner.cancel) if outer is not None else nullcontext(), within(inner):
        yield inner


def pause(seconds: float) -> None:
    """`time.sleep`, cut short (raising) by the current deadline or its cancellation."""
    deadline = current_deadline()
    if deadline is None:
        time.sleep(seconds)
    else:
        deadline.sleep(seconds)


@contextmanager
def holding(lock: threading.Lock) -> Iterator[None]:
    """`with lock:`, waiting no longer than the current deadline allows (unbounded without one)."""
    deadline = current_deadline()
    if deadline is None:
        lock.acquire()
    else:
        deadline.acquire(lock)
    try:
        yield
    finally:
        lock.release()
