"""Server-sent events for the API: a blocking iterator pulled in worker threads under a deadline (holding
an LLM slot while it runs), and the `event:`/`data:` wire format (one JSON object per event, on one line)."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import anyio
from fastapi.encoders import jsonable_encoder
from loguru import logger

from llm_engineering.application.deadline import Deadline, within
from llm_engineering.entrypoints.api.blocking import LLMSlots

T = TypeVar("T")

# What a proxy must not do to an event stream: cache it, or buffer it (nginx) until it ends.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_END = object()


def sse_event(name: str, data: Any) -> str:
    """One server-sent event: `event: <name>`, then `data: <JSON on one line>`, then a blank line."""
    payload = json.dumps(jsonable_encoder(data), ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {payload}\n\n"


async def pull_in_threads(items: Iterator[T], timeout_s: float, slots: LLMSlots | None = None) -> AsyncIterator[T]:
    """The items of a blocking iterator, each `next()` run in a worker thread, never on the event loop.

    With `slots`, one of them is held from the first item to the end (`slots.busy(...)`, a 503, when none
    is free within `timeout_s`), and the `next()` calls run on a thread of the stream's own, outside the
    default pool. Raises `TimeoutError` when the whole iteration takes longer than `timeout_s`; the
    iterator's own errors propagate. Each `next()` runs under the stream's `Deadline`; when the consumer
    stops early (deadline, client disconnect, error) the deadline is cancelled, which interrupts an LLM
    call still running, and the iterator is closed in a worker thread once that `next()` returns.
    """
    deadline = Deadline(timeout_s)
    running = threading.Lock()
    abandoned = threading.Event()
    finished = False
    borrower = object()  # the slot is taken in the route's task and given back in the response's
    holding_slot = False

    def step() -> Any:
        with running:
            if abandoned.is_set():
                return _END
            try:
                with within(deadline):
                    return next(items)
            except StopIteration:
                return _END

    def close() -> None:
        with running:  # waits for a step still running in its thread
            try:
                getattr(items, "close", lambda: None)()
            except Exception as error:  # noqa: BLE001 - nobody is left to tell
                logger.warning("Closing an abandoned stream failed: {}", error)

    try:
        if slots is not None:
            with anyio.move_on_after(timeout_s):
                await slots.limiter.acquire_on_behalf_of(borrower)
                holding_slot = True
            if not holding_slot:
                raise slots.busy(timeout_s)
        # One thread at a time pulls this stream: with slots, never one of the default pool's.
        limiter = anyio.CapacityLimiter(1) if slots is not None else None
        while True:
            with anyio.fail_after(deadline.remaining() or 0.0):
                item = await anyio.to_thread.run_sync(step, limiter=limiter, abandon_on_cancel=True)
            if item is _END:
                finished = True
                return
            yield item
    finally:
        if not finished:
            abandoned.set()
            deadline.cancel("the stream was abandoned")  # a `next()` blocked on the LLM returns now
            # Not awaited: a cancelled request cannot wait, and closing must not delay the end of the stream.
            threading.Thread(target=close, name="close-abandoned-stream", daemon=True).start()
        if holding_slot:
            slots.limiter.release_on_behalf_of(borrower)  # type: ignore[union-attr]
