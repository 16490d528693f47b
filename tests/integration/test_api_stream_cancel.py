"""A client that leaves `POST /rag/stream` (the chat's Stop button) cancels the generation behind it: the
real app under uvicorn, the real OpenAI-compatible client, and a slow-streaming LLM server on 127.0.0.1
that records when its own client disconnects (as llama.cpp's server stops at its next token then).

Retrieval is faked (one passage): only the path from the browser's socket to the LLM's socket is under
test. Bounds are generous ceilings for a busy machine, polled; nothing waits a fixed time.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from loguru import logger

from llm_engineering.application.llm.retry import RetryPolicy
from llm_engineering.application.rag.answering import AnswerGenerator
from llm_engineering.bootstrap import Container
from llm_engineering.entrypoints.api import create_app
from llm_engineering.entrypoints.api.dependencies import get_answer_generator, get_retriever
from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient
from llm_engineering.settings import load_settings
from tests.fixtures.slow_llm import SlowLLM
from tests.unit.application.rag.fakes import OnePassageRetriever

pytestmark = pytest.mark.integration

LEFT = "client left; generation cancelled"
GENEROUS_S = 120
PASSAGE = "Rerank the retrieved passages before you prompt the model, and keep only the best few."


class GatedRetriever(OnePassageRetriever):
    """Finds its one passage once `gate` is open (a slow retrieval the client may leave during)."""

    def __init__(self) -> None:
        super().__init__(content=PASSAGE)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def search_with_trace(self, query, k, expand_to_n_queries):  # type: ignore[no-untyped-def]
        self.entered.set()
        self.gate.wait(GENEROUS_S)
        return super().search_with_trace(query, k, expand_to_n_queries)


@pytest.fixture
def slow_llm() -> Iterator[SlowLLM]:
    with SlowLLM(reply=lambda prompt: "Rerank before you prompt the model, always.", model_id="slow-twin") as llm:
        yield llm


@pytest.fixture
def log() -> Iterator[list[str]]:
    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(message.record["message"]), level="INFO")
    yield messages
    logger.remove(sink)


@contextmanager
def serving(slow_llm: SlowLLM, retriever: OnePassageRetriever, tmp_path) -> Iterator[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """The app on one LLM slot, under uvicorn in a thread on a free port of 127.0.0.1; yields (host, port)."""
    settings = load_settings(
        env_file=tmp_path / "none.env",
        LOCAL_DATA_DIR=str(tmp_path / "local"),
        LLM_BASE_URL=slow_llm.base_url,
        LLM_MODEL_ID=slow_llm.model_id,
        LLM_MAX_CONCURRENT_REQUESTS=1,
        API_REQUEST_TIMEOUT_S=300,
    )
    app = create_app(settings, container=Container(settings), warm_up_on_start=False)
    client = OpenAICompatibleClient(
        slow_llm.base_url, slow_llm.model_id, timeout_s=120, retry_policy=RetryPolicy(max_retries=0)
    )
    app.dependency_overrides[get_retriever] = lambda: lambda: retriever
    app.dependency_overrides[get_answer_generator] = lambda: lambda: AnswerGenerator(client)
    listener = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="api", daemon=True)
    thread.start()
    try:
        _poll(lambda: server.started, "uvicorn did not start")
        yield listener.getsockname()[:2]
    finally:
        server.should_exit = True
        thread.join(GENEROUS_S)
        listener.close()
        client.close()


def _poll(condition, failure: str, timeout_s: float = GENEROUS_S) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{failure} within {timeout_s:g}s")
        time.sleep(0.05)


def _ask(address: tuple[str, int], query: str) -> socket.socket:
    """A browser's `POST /rag/stream` on a socket of its own (left open: the caller reads or closes it)."""
    body = json.dumps({"query": query}).encode()
    head = (
        f"POST /rag/stream HTTP/1.1\r\nHost: {address[0]}:{address[1]}\r\nContent-Type: application/json\r\n"
        f"Accept: text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    connection = socket.create_connection(address, timeout=GENEROUS_S)
    connection.sendall(head.encode() + body)
    return connection


def _read_until(connection: socket.socket, marker: bytes) -> bytes:
    received = b""
    deadline = time.monotonic() + GENEROUS_S
    while marker not in received:
        if time.monotonic() > deadline:
            pytest.fail(f"no {marker!r} within {GENEROUS_S}s; got {received[-500:]!r}")
        chunk = connection.recv(65536)
        if not chunk:
            pytest.fail(f"the stream ended before {marker!r}: {received[-500:]!r}")
        received += chunk
    return received


def test_leaving_mid_stream_disconnects_the_llm_and_frees_the_slot(slow_llm, log, tmp_path):
    with serving(slow_llm, OnePassageRetriever(content=PASSAGE), tmp_path) as address:
        for attempt in (1, 2):  # one LLM slot: the second stream gets it only once the first gave it back
            connection = _ask(address, "Why rerank before the prompt?")
            received = _read_until(connection, b"event: token")
            assert b" 200 OK" in received.split(b"\r\n", 1)[0]
            connection.close()  # the browser's Stop: the fetch is aborted, its connection closed
            _poll(
                lambda attempt=attempt: slow_llm.disconnects == attempt,
                f"the LLM server never saw its client leave ({slow_llm.describe()})",
            )
            _poll(lambda attempt=attempt: log.count(LEFT) == attempt, f"{LEFT!r} was not logged once: {log}")
    assert slow_llm.streams_finished == 0 and slow_llm.tokens_sent < slow_llm.tokens
    assert log.count(LEFT) == 2  # once per stream stopped


def test_leaving_during_retrieval_never_leaves_a_generation_running(slow_llm, log, tmp_path):
    retriever = GatedRetriever()
    with serving(slow_llm, retriever, tmp_path) as address:
        connection = _ask(address, "Why rerank before the prompt?")
        _poll(retriever.entered.is_set, "the request never reached retrieval")
        connection.close()
        retriever.gate.set()  # retrieval ends after the client left
        _poll(lambda: log.count(LEFT) == 1, f"{LEFT!r} was not logged once: {log}")
        # A generation that was opened at all was cut at once: none streams on for nobody.
        _poll(lambda: slow_llm.streaming_now == 0, f"a generation kept running ({slow_llm.describe()})")
        assert slow_llm.streams_finished == 0
        # And the one LLM slot is free again: the next question streams.
        retriever_free = _ask(address, "Why rerank before the prompt?")
        _read_until(retriever_free, b"event: token")
        retriever_free.close()
