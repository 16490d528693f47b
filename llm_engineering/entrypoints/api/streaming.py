"""Server-sent events for the API: a blocking iterator pulled in worker threads under a deadline (holding
an LLM slot while it runs), the `event:`/`data:` wire format (one JSON object per event, on one line), and
the response that sends them and, when the client leaves, closes their source at once (which cancels the
generation behind it: the LLM server sees its own client leave and stops at its next token)."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncGenerator, Iterator
from typing import Any, TypeVar

import anyio
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from loguru import logger
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from llm_engineering.application.deadline import Deadline, within
from llm_engineering.entrypoints.api.blocking import LLMSlots

T = TypeVar("T")

# What a proxy must not do to an event stream: cache it, or buffer it (nginx) until it ends.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_END = object()


class EventStreamResponse(StreamingResponse):
    """`text/event-stream` from `events`, which is closed as soon as the response ends, however it ends.

    Starlette stops sending when the client disconnects (it cancels the sending task, or a send fails on
    ASGI 2.4 servers) but leaves the body's generator for the garbage collector to close. Here `events`
    and the iterators in `closes` (the source behind them, never started when the client left before
    the first byte) are closed at once, so `pull_in_threads` cancels the LLM call and gives its slot
    back now. A client that left before the stream's end is logged once, as `abandoned` cancelled.
    """

    def __init__(
        self,
        events: AsyncGenerator[str, None],
        closes: tuple[AsyncGenerator[Any, None], ...] = (),
        abandoned: str = "generation",
    ):
        super().__init__(events, media_type="text/event-stream", headers=SSE_HEADERS)
        self._events = events
        self._closes = closes
        self._abandoned = abandoned
        self.client_left = False
        self.completed = False

    async def listen_for_disconnect(self, receive: Receive) -> None:
        await super().listen_for_disconnect(receive)
        self.client_left = True  # returns only on `http.disconnect`; Starlette then stops sending

    async def stream_response(self, send: Send) -> None:
        await super().stream_response(send)
        self.completed = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except ClientDisconnect:  # ASGI 2.4 servers: a send to a client that left fails
            self.client_left = True
            raise
        finally:
            with anyio.CancelScope(shield=True):  # the request may be cancelled: closing must still run
                for iterator in (self._events, *self._closes):
                    await iterator.aclose()
            if self.client_left and not self.completed:
                logger.info("client left; {} cancelled", self._abandoned)


def sse_event(name: str, data: Any) -> str:
    """One server-sent event: `event: <name>`, then `data: <JSON on one line>`, then a blank line."""
    payload = json.dumps(jsonable_encoder(data), ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {payload}\n\n"


async def pull_in_threads(
    items: Iterator[T], timeout_s: float, slots: LLMSlots | None = None
) -> AsyncGenerator[T, None]:
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
