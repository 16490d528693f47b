"""A request's blocking work: in a worker thread, under the request's deadline, cancelled with it.

Each request gets a `Deadline` of API_REQUEST_TIMEOUT_S and runs its blocking work `within` it. When the
deadline passes or the client leaves, the request ends at once and the deadline is cancelled, which
interrupts the LLM call the thread is blocked on (see `application.deadline`): the thread ends too,
instead of holding a worker and an LLM connection for minutes after nobody waits for the answer.

Work that calls the LLM runs on `LLMSlots`: at most LLM_MAX_CONCURRENT_REQUESTS at a time, in threads
counted apart from the default pool that /retrieve, /ready and the UI use, so a slow or hung LLM cannot
starve them. A request still waiting for a slot at its deadline answers 503 naming the LLM service.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from starlette.requests import Request

from llm_engineering.application.deadline import Deadline, within
from llm_engineering.application.errors import DeadlineExceededError, RequestCancelledError
from llm_engineering.entrypoints.api.errors import DependencyUnavailable

T = TypeVar("T")


class LLMSlots:
    """The LLM-bound work of the service: `size` requests at a time, on worker threads of their own."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError("size must be >= 1")
        self.size = size
        self.limiter = anyio.CapacityLimiter(size)

    def __repr__(self) -> str:
        return f"LLMSlots(size={self.size})"

    def busy(self, waited_s: float) -> DependencyUnavailable:
        """The 503 of a request that waited `waited_s` seconds and got no slot."""
        return DependencyUnavailable(
            "LLM service",
            f"all {self.size} LLM slots (LLM_MAX_CONCURRENT_REQUESTS) stayed busy for {waited_s:g}s; try again later",
        )


async def run_blocking(
    function: Callable[..., T],
    *args: Any,
    timeout_s: float,
    slots: LLMSlots | None = None,
    request: Request | None = None,
) -> T:
    """`function(*args)` in a worker thread (one of `slots`, else the default pool) under a new deadline.

    Raises `DeadlineExceededError` (a `TimeoutError`) when `timeout_s` passes first, `slots.busy(...)` when
    the request waited that long for a slot, `RequestCancelledError` when `request`'s client left first;
    the function's own errors propagate. In every case the deadline is cancelled when this returns.
    """
    deadline = Deadline(timeout_s)
    started = threading.Event()

    def work() -> T:
        deadline.check()  # abandoned while it waited for a thread: never start
        started.set()
        with within(deadline):
            return function(*args)

    client_left = threading.Event()
    with anyio.move_on_after(timeout_s) as scope:
        watcher = asyncio.create_task(_cancel_when_client_leaves(request, client_left, scope)) if request else None
        try:
            limiter = slots.limiter if slots is not None else None
            return await anyio.to_thread.run_sync(work, limiter=limiter, abandon_on_cancel=True)
        finally:
            if watcher is not None:
                watcher.cancel()
            # The work ended, or nobody waits for it any more: whatever still blocks on the LLM stops now.
            deadline.cancel("the client left" if client_left.is_set() else "the request's deadline passed")
    if client_left.is_set():
        raise RequestCancelledError("the client left before the answer was ready")
    if slots is not None and not started.is_set():
        raise slots.busy(timeout_s)
    raise DeadlineExceededError(f"the request took longer than {timeout_s:g}s")


async def _cancel_when_client_leaves(request: Request, client_left: threading.Event, scope: anyio.CancelScope) -> None:
    """Cancel `scope` when the client disconnects (the body is read by then: the next message is the end)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            client_left.set()
            scope.cancel()
            return
