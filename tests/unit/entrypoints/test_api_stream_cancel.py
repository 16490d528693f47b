"""`EventStreamResponse`: when the client leaves (the chat's Stop button), the events' source is closed at
once, which cancels the blocking generation behind it and gives its LLM slot back, and the cancellation is
logged once; a stream that ends normally logs nothing. Driven through the ASGI interface directly."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import pytest
from loguru import logger
from starlette.requests import ClientDisconnect

from llm_engineering.application.deadline import current_deadline
from llm_engineering.entrypoints.api.blocking import LLMSlots
from llm_engineering.entrypoints.api.streaming import EventStreamResponse, pull_in_threads

LEFT = "client left; generation cancelled"
# Ceiling for a worker thread to notice the cancel on a busy machine (it takes milliseconds).
GENEROUS_S = 30


class Generation:
    """A blocking event source standing in for the LLM: two events, then a wait that only the request's
    cancellation ends early (as a socket read cut by the deadline does)."""

    def __init__(self, events: int = 2, blocks: bool = True):
        self.events = events
        self.blocks = blocks
        self.closed = threading.Event()
        self.blocking = threading.Event()
        self.cancelled = threading.Event()

    def __iter__(self) -> Iterator[str]:
        try:
            for number in range(self.events):
                yield f"event: token\ndata: {number}\n\n"
            if self.blocks:
                deadline = current_deadline()
                assert deadline is not None
                self.blocking.set()
                try:
                    deadline.sleep(120)
                except Exception:
                    self.cancelled.set()
                    raise
        finally:
            self.closed.set()


@pytest.fixture
def log() -> Iterator[list[str]]:
    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(message.record["message"]), level="INFO")
    yield messages
    logger.remove(sink)


async def _relay(first: str, events: AsyncGenerator[str, None]) -> AsyncGenerator[str, None]:
    """What the /rag/stream route sends: the first event, then the rest."""
    yield first
    async for event in events:
        yield event


def _scope(spec_version: str) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": spec_version}, "method": "POST"}


async def _respond(
    generation: Generation,
    spec_version: str = "2.3",
    leave_after_chunks: int | None = 1,
    slots: LLMSlots | None = None,
) -> tuple[EventStreamResponse, list[bytes], dict[str, Any]]:
    """Serve `generation` as the route does; the client leaves once `leave_after_chunks` body chunks were
    sent (0: before any; None: never), and on ASGI 2.3 only once the generation blocks (so the cancel
    finds it waiting on the "LLM"). Returns the response, the body chunks sent, and what was seen right after
    the response returned, while the event loop still runs (its end would close every generator anyway):
    the slots still borrowed, and whether the generation was closed."""
    events = pull_in_threads(iter(generation), timeout_s=120, slots=slots)
    first = await anext(events)
    response = EventStreamResponse(_relay(first, events), closes=(events,))
    sent: list[bytes] = []
    left = asyncio.Event()
    if leave_after_chunks == 0:
        left.set()

    async def receive() -> dict[str, Any]:
        await left.wait()
        if leave_after_chunks:
            await asyncio.to_thread(generation.blocking.wait, GENEROUS_S)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] != "http.response.body":
            return
        if left.is_set() and spec_version == "2.4":
            raise OSError("the client closed the connection")
        sent.append(message["body"])
        if leave_after_chunks is not None and len(sent) >= leave_after_chunks:
            left.set()

    try:
        await asyncio.wait_for(response(_scope(spec_version), receive, send), GENEROUS_S)
    except ClientDisconnect:
        assert spec_version == "2.4"
    seen = {"borrowed": slots.limiter.borrowed_tokens if slots is not None else 0}
    seen["closed"] = await asyncio.to_thread(generation.closed.wait, GENEROUS_S)
    return response, sent, seen


@pytest.mark.parametrize("spec_version", ["2.3", "2.4"])
def test_a_client_that_leaves_mid_stream_cancels_the_generation_and_is_logged_once(log, spec_version):
    generation = Generation()
    response, sent, seen = asyncio.run(_respond(generation, spec_version, leave_after_chunks=1))
    assert response.client_left and not response.completed
    assert seen["closed"], "the generation was not closed after the client left"
    if spec_version == "2.3":  # the disconnect interrupts the wait on the "LLM" (on 2.4 a send notices it)
        assert generation.cancelled.is_set()
    assert sent and b"event: token" in sent[0]
    assert log.count(LEFT) == 1, log


def test_a_client_gone_before_the_stream_starts_frees_the_llm_slot_at_once(log):
    slots = LLMSlots(1)
    generation = Generation()
    response, _, seen = asyncio.run(_respond(generation, leave_after_chunks=0, slots=slots))
    assert response.client_left and not response.completed
    # Given back when the response returned, not whenever the garbage collector closes the generator.
    assert seen["borrowed"] == 0
    assert seen["closed"], "the generation was not closed after the client left"
    assert log.count(LEFT) == 1, log


def test_a_stream_read_to_its_end_logs_no_cancellation(log):
    generation = Generation(events=3, blocks=False)
    response, sent, seen = asyncio.run(_respond(generation, leave_after_chunks=None))
    assert response.completed and not response.client_left
    assert b"".join(sent).count(b"event: token") == 3
    assert seen["closed"]
    assert LEFT not in log
