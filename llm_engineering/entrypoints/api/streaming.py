"""Server-sent events for the API: a blocking iterator pulled in worker threads under a deadline, and the
`event:`/`data:` wire format (one JSON object per event, on one line)."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import anyio
from fastapi.encoders import jsonable_encoder
from loguru import logger

T = TypeVar("T")

# What a proxy must not do to an event stream: cache it, or buffer it (nginx) until it ends.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_END = object()


def sse_event(name: str, data: Any) -> str:
    """One server-sent event: `event: <name>`, then `data: <JSON on one line>`, then a blank line."""
    payload = json.dumps(jsonable_encoder(data), ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {payload}\n\n"


async def pull_in_threads(items: Iterator[T], timeout_s: float) -> AsyncIterator[T]:
    """The items of a blocking iterator, each `next()` run in a worker thread, never on the event loop.

    Raises `TimeoutError` when the whole iteration takes longer than `timeout_s`; the iterator's own errors
    propagate. When the consumer stops early (deadline, client disconnect, error) the iterator is closed in
    a worker thread once the `next()` still running there returns, so the work behind it stops.
    """
    deadline = anyio.current_time() + timeout_s
    running = threading.Lock()
    abandoned = threading.Event()
    finished = False

    def step() -> Any:
        with running:
            if abandoned.is_set():
                return _END
            try:
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
        while True:
            with anyio.fail_after(max(deadline - anyio.current_time(), 0)):
                item = await anyio.to_thread.run_sync(step, abandon_on_cancel=True)
            if item is _END:
                finished = True
                return
            yield item
    finally:
        if not finished:
            abandoned.set()
            # Not awaited: a cancelled request cannot wait, and closing must not delay the end of the stream.
            threading.Thread(target=close, name="close-abandoned-stream", daemon=True).start()
