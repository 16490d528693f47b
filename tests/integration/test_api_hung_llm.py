"""A hung LLM cannot starve the service: a real "black-hole" LLM server (accepts, reads, never answers) on
127.0.0.1, the real OpenAI-compatible client, and the real app under uvicorn on the demo corpus.

Bounds are generous (a busy 2-core machine): the tests check that things answer at all, and that the LLM
connections are closed by the deadline or by the client leaving, never how fast.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from llm_engineering.application.deadline import Deadline, within
from llm_engineering.application.errors import DeadlineExceededError, RequestCancelledError
from llm_engineering.application.llm.client import ChatMessage
from llm_engineering.application.llm.retry import RetryPolicy
from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient
from tests.fixtures.black_hole_llm import BlackHoleServer
from tests.rag_fixtures import index_demo_corpus_into, running_api
from tests.waiting import CEILING_S

pytestmark = pytest.mark.integration

HELLO = [ChatMessage("user", "Hello")]
# Long enough that a connection closed well before it was closed by the client leaving, not by the deadline.
API_DEADLINE_S = 40
SLOTS = 2
# What a busy machine may take to answer anything at all, in the tests on the service: below its deadline, so
# that what they see happened before the deadline could cause it.
GENEROUS_S = 30


@pytest.fixture
def black_hole() -> Iterator[BlackHoleServer]:
    with BlackHoleServer() as server:
        yield server


def _client(server: BlackHoleServer) -> OpenAICompatibleClient:
    return OpenAICompatibleClient(server.base_url, "twin", timeout_s=120, retry_policy=RetryPolicy(max_retries=2))


@pytest.mark.parametrize("streamed", [False, True])
def test_the_client_hangs_up_on_a_hung_server_at_the_deadline(black_hole, streamed):
    client = _client(black_hole)
    started = time.monotonic()
    with within(Deadline(1.0)), pytest.raises(DeadlineExceededError):
        if streamed:
            list(client.stream_chat(HELLO))
        else:
            client.chat(HELLO)
    assert time.monotonic() - started < GENEROUS_S
    assert black_hole.accepted == 1  # one attempt: a generation the server took is never sent again
    assert black_hole.wait_for_open(0, CEILING_S)
    client.close()


def test_cancelling_the_caller_closes_the_connection_at_once(black_hole):
    client, deadline, failures = _client(black_hole), Deadline(600), []

    def call() -> None:
        with within(deadline):
            try:
                client.chat(HELLO)
            except Exception as error:  # noqa: BLE001 - checked below
                failures.append(error)

    worker = threading.Thread(target=call)
    worker.start()
    assert black_hole.wait_for(lambda server: server.open_connections == 1, CEILING_S)
    deadline.cancel("the client left")
    worker.join(CEILING_S)
    assert not worker.is_alive() and isinstance(failures[0], RequestCancelledError)
    assert black_hole.wait_for_open(0, CEILING_S)  # far before the 600 s deadline
    client.close()


# --- The service under uvicorn ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def populated(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A warehouse database and a Qdrant folder holding the demo corpus, released by this process."""
    root = tmp_path_factory.mktemp("hung-llm-api")
    database = f"hung_{uuid.uuid4().hex[:8]}"
    index_demo_corpus_into(mongo_uri, database, root / "qdrant")
    return {"root": root, "database": database}


@pytest.fixture(scope="module")
def hung_service(populated: dict, mongo_uri: str) -> Iterator[tuple[str, BlackHoleServer]]:
    """The API on the demo corpus, its LLM a black hole; self-query and expansion off, so that every /rag
    goes straight to one generation call (and the warm-up calls no LLM)."""
    with BlackHoleServer() as llm:
        environment = {
            "DATABASE_HOST": mongo_uri,
            "DATABASE_NAME": populated["database"],
            "QDRANT_LOCAL_PATH": str(populated["root"] / "qdrant"),
            "LOCAL_DATA_DIR": str(populated["root"] / "local"),
            "LLM_BASE_URL": llm.base_url,
            "LLM_MODEL_ID": "hung-twin",
            "LLM_TIMEOUT_S": str(API_DEADLINE_S),
            "LLM_MAX_RETRIES": "0",
            "LLM_MAX_CONCURRENT_REQUESTS": str(SLOTS),
            "API_REQUEST_TIMEOUT_S": str(API_DEADLINE_S),
            "RAG_SELF_QUERY": "off",
            "RAG_QUERY_EXPANSION": "off",
            "RAG_TOP_K": "3",
            "HF_HUB_OFFLINE": "1",
        }
        with running_api(environment, populated["root"]) as base:
            # Warm: the first retrieval loads the embedding model.
            assert httpx.post(f"{base}/retrieve", json={"query": "warm-up"}, timeout=120).status_code == 200
            yield base, llm


def test_a_client_that_leaves_closes_the_llm_connection(hung_service):
    base, llm = hung_service
    assert llm.wait_for_open(0, GENEROUS_S)
    accepted = llm.accepted
    address = urlsplit(base)
    body = b'{"query": "Why should retrieved passages be reranked?"}'
    request = (
        f"POST /rag HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection((address.hostname, address.port), timeout=GENEROUS_S) as client:
        client.sendall(request)
        assert llm.wait_for(lambda server: server.accepted > accepted and server.open_connections >= 1, GENEROUS_S)
    # The client left: the generation is cancelled and its connection closed long before the deadline.
    left = time.monotonic()
    assert llm.wait_for_open(0, GENEROUS_S)
    assert time.monotonic() - left < API_DEADLINE_S


def test_retrieve_ready_and_the_ui_answer_while_many_rag_requests_wait(hung_service):
    base, llm = hung_service

    async def scenario() -> tuple[list[httpx.Response], dict[str, list[int]], int]:
        async with httpx.AsyncClient(base_url=base, timeout=API_DEADLINE_S + 60) as client:
            rag = [
                asyncio.create_task(client.post("/rag", json={"query": f"How should I chunk my notes? ({i})"}))
                for i in range(12)
            ]
            assert await asyncio.to_thread(llm.wait_for, lambda server: server.open_connections >= 1, GENEROUS_S)
            answered: dict[str, list[int]] = {"/retrieve": [], "/ready": [], "/ui/api/authors": []}
            most_open = 0
            for _ in range(3):
                for path, codes in answered.items():
                    if path == "/retrieve":
                        response = await client.post(path, json={"query": "Why rerank passages?"}, timeout=GENEROUS_S)
                    else:
                        response = await client.get(path, timeout=GENEROUS_S)
                    codes.append(response.status_code)
                    if path == "/ready":
                        checks = response.json()["checks"]
                        assert checks["llm"]["ok"] is False and checks["warehouse"]["ok"], checks
                most_open = max(most_open, llm.open_connections)
            assert not all(task.done() for task in rag)  # all of that while /rag requests still waited
            return list(await asyncio.gather(*rag)), answered, most_open

    answers, answered, most_open = asyncio.run(scenario())
    assert answered == {"/retrieve": [200] * 3, "/ready": [503] * 3, "/ui/api/authors": [200] * 3}
    assert {response.status_code for response in answers} <= {503, 504}
    assert most_open <= SLOTS + 1  # the generations holding a slot, and one readiness probe
    # The deadline passed: every LLM connection is closed, none left computing for nobody.
    assert llm.wait_for_open(0, GENEROUS_S)
