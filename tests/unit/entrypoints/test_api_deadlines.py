"""No request can starve the service: LLM work ends with its request, runs on slots of its own, and
`/ready`, `/retrieve` and `/health` keep answering while the LLM hangs (fakes, no sockets)."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from llm_engineering import bootstrap
from llm_engineering.application.deadline import Deadline, current_deadline
from llm_engineering.application.errors import DeadlineExceededError, RequestCancelledError
from llm_engineering.application.rag.answering import AnswerGenerator
from llm_engineering.bootstrap import Container
from llm_engineering.entrypoints.api import create_app, readiness
from llm_engineering.entrypoints.api.app import warm_up
from llm_engineering.entrypoints.api.blocking import LLMSlots, run_blocking
from llm_engineering.entrypoints.api.dependencies import (
    ServiceState,
    get_answer_generator,
    get_plain_retriever,
    get_retriever,
)
from llm_engineering.entrypoints.api.errors import DependencyUnavailable
from llm_engineering.entrypoints.api.readiness import DependencyProbe
from llm_engineering.entrypoints.api.streaming import pull_in_threads
from llm_engineering.settings import load_settings
from tests.unit.application.rag.fakes import OnePassageRetriever, ScriptedLLM
from tests.waiting import CEILING_S, eventually

FAST = {"API_REQUEST_TIMEOUT_S": 1.0, "LLM_TIMEOUT_S": 1.0, "LLM_MAX_RETRIES": 0}


class HangingLLM(ScriptedLLM):
    """An LLM that never answers: each call blocks until its caller's deadline passes or is cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.running = 0
        self.most_at_once = 0
        self.ended: list[Exception] = []
        self._lock = threading.Lock()

    def _hang(self) -> None:
        deadline = current_deadline()
        if deadline is None:
            raise AssertionError("the LLM was called outside of any deadline: nothing would ever stop it")
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            deadline.sleep(3600)
        except Exception as error:
            self.ended.append(error)
            raise
        finally:
            with self._lock:
                self.running -= 1

    def chat(self, messages, parameters=None):  # type: ignore[no-untyped-def]
        self._hang()

    def complete(self, prompt, parameters=None):  # type: ignore[no-untyped-def]
        self._hang()

    def ping(self) -> None:
        self._hang()


class Store:
    def ping(self) -> None:
        return None


@pytest.fixture
def hung_app(tmp_path, monkeypatch):
    """An app whose LLM hangs (stores answer at once), and the LLM."""

    def build(**overrides):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(readiness, "LLM_CHECK_TIMEOUT_S", 0.3)
        settings = load_settings(env_file=tmp_path / "none.env", **{**FAST, **overrides})
        llm = HangingLLM()
        container = Container(settings, warehouse=Store(), vector_store=Store(), llm=llm)
        app = create_app(settings, container=container, warm_up_on_start=False)
        app.dependency_overrides[get_retriever] = lambda: lambda: OnePassageRetriever()
        app.dependency_overrides[get_plain_retriever] = lambda: lambda: OnePassageRetriever()
        app.dependency_overrides[get_answer_generator] = lambda: lambda: AnswerGenerator(llm)
        return app, llm

    yield build
    bootstrap.reset()


def _client(app) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://twin.test", timeout=60)


def test_a_hung_llm_call_ends_with_its_request(hung_app):
    app, llm = hung_app()

    async def scenario() -> httpx.Response:
        async with _client(app) as client:
            return await client.post("/rag", json={"query": "Why rerank?"})

    response = asyncio.run(scenario())
    assert response.status_code == 504, response.text
    assert response.json()["detail"].startswith("the request took longer than")
    # The thread blocked on the LLM did not outlive the request: its call ended at the deadline.
    assert eventually(lambda: len(llm.ended) == 1 and llm.running == 0)
    assert isinstance(llm.ended[0], DeadlineExceededError | RequestCancelledError)


def test_requests_beyond_the_llm_slots_wait_then_503_while_the_rest_of_the_service_answers(hung_app):
    app, llm = hung_app(LLM_MAX_CONCURRENT_REQUESTS=2)

    async def scenario() -> tuple[list[httpx.Response], list[httpx.Response]]:
        async with _client(app) as client:
            rag = [asyncio.create_task(client.post("/rag", json={"query": f"Why rerank? {i}"})) for i in range(6)]
            await asyncio.sleep(0.1)
            meanwhile = [
                await client.post("/retrieve", json={"query": "Why rerank?"}),
                await client.get("/ready"),
                await client.get("/ready"),
                await client.get("/health"),
            ]
            assert not all(task.done() for task in rag)  # answered while /rag requests were waiting
            return list(await asyncio.gather(*rag)), meanwhile

    answers, meanwhile = asyncio.run(scenario())
    retrieved, ready, ready_again, health = meanwhile
    assert retrieved.status_code == 200 and health.status_code == 200
    assert ready.status_code == 503 and ready.json()["checks"]["llm"]["ok"] is False
    assert ready.json()["checks"]["warehouse"]["ok"] and ready.json()["checks"]["vector_store"]["ok"]
    assert ready_again.json()["checks"]["llm"]["ok"] is False
    statuses = sorted(response.status_code for response in answers)
    # 503 for a request that never got a slot, 504 for one that got a slot freed just before its deadline
    # (which one depends on timing; `test_no_free_slot_is_a_503...` pins the 503 down).
    assert set(statuses) <= {503, 504}
    for busy in (response.json() for response in answers if response.status_code == 503):
        assert busy["dependency"] == "LLM service" and "LLM_MAX_CONCURRENT_REQUESTS" in busy["detail"]
    # Two slots: never more than two generations plus the readiness probe at once.
    assert llm.most_at_once <= 3
    assert eventually(lambda: llm.running == 0)


def test_the_client_leaving_cancels_the_work():
    ended: list[Exception] = []

    class LeavingClient:
        async def receive(self) -> dict:
            await asyncio.sleep(0.2)
            return {"type": "http.disconnect"}

    def generate() -> None:
        try:
            current_deadline().sleep(3600)  # type: ignore[union-attr]
        except RequestCancelledError as error:
            ended.append(error)
            raise

    async def scenario() -> None:
        with pytest.raises(RequestCancelledError, match="client left"):
            await run_blocking(generate, timeout_s=60, slots=LLMSlots(1), request=LeavingClient())  # type: ignore[arg-type]

    started = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - started < 30
    assert eventually(lambda: len(ended) == 1)


def test_no_free_slot_is_a_503_naming_the_llm_and_the_waiting_work_never_starts():
    slots, started = LLMSlots(1), []

    def hold() -> None:
        current_deadline().sleep(3600)  # type: ignore[union-attr]

    async def scenario() -> None:
        holder = asyncio.create_task(run_blocking(hold, timeout_s=2.0, slots=slots))
        await asyncio.sleep(0.2)
        with pytest.raises(DependencyUnavailable) as raised:
            await run_blocking(started.append, 1, timeout_s=0.3, slots=slots)
        assert raised.value.dependency == "LLM service" and "1 LLM slots" in raised.value.detail
        with pytest.raises(DeadlineExceededError):
            await holder

    asyncio.run(scenario())
    assert started == []


def test_a_stream_holds_its_slot_until_it_ends():
    slots = LLMSlots(1)

    def items():  # type: ignore[no-untyped-def]
        yield "first"
        current_deadline().sleep(3600)  # type: ignore[union-attr]
        yield "never"

    async def scenario() -> None:
        holder = pull_in_threads(items(), timeout_s=2.0, slots=slots)
        assert await anext(holder) == "first"
        with pytest.raises(DependencyUnavailable):
            await anext(pull_in_threads(iter(["x"]), timeout_s=0.3, slots=slots))
        with pytest.raises(TimeoutError):
            await anext(holder)
        await holder.aclose()
        assert await anext(pull_in_threads(iter(["x"]), timeout_s=5, slots=slots)) == "x"  # given back

    asyncio.run(scenario())


def test_readiness_probes_run_one_at_a_time_and_a_failure_is_answered_at_once():
    calls, release = [], threading.Event()
    outcome: list[Exception | None] = [OSError("connection refused")]

    def ping() -> None:
        calls.append(1)
        release.wait(CEILING_S)  # hangs until the test releases it, however long the test takes to get there
        if outcome[0] is not None:
            raise outcome[0]

    probe = DependencyProbe("store", ping, timeout_s=0.5)

    async def scenario() -> None:
        # Five callers, one probe; it hangs past the timeout: all of them hear so within the timeout.
        first = await asyncio.gather(*(probe.check() for _ in range(5)))
        assert len(calls) == 1
        assert all(check == {"ok": False, "detail": "no answer within 0.5s"} for check in first)
        started = time.monotonic()
        assert (await probe.check())["ok"] is False  # still running: no new probe, no new wait
        assert time.monotonic() - started < 0.3 and len(calls) == 1
        release.set()
        assert eventually(lambda: probe._running is not None and probe._running.done())
        outcome[0] = None  # the dependency recovers
        failed = await probe.check()  # the last probe failed: said at once while the next one runs
        assert failed == {"ok": False, "detail": "OSError: connection refused"}
        assert eventually(lambda: len(calls) == 2 and probe._running.done())  # type: ignore[union-attr]
        assert (await probe.check())["ok"] is True  # recovered

    asyncio.run(scenario())


def test_the_warm_up_ends_at_its_deadline_on_a_hung_llm(tmp_path):
    from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore
    from tests.unit.application.rag.fakes import BagOfWordsEmbedder

    settings = load_settings(env_file=tmp_path / "none.env", RERANKER="bi-encoder", RAG_SELF_QUERY="auto")
    llm, store = HangingLLM(), QdrantVectorStore(path=":memory:")
    container = Container(settings, warehouse=Store(), vector_store=store, embedder=BagOfWordsEmbedder(), llm=llm)
    started = time.monotonic()
    try:
        warm_up(ServiceState(container, tracer=None), Deadline(0.5))  # type: ignore[arg-type]
    finally:
        bootstrap.reset()
        store.close()
    assert time.monotonic() - started < 30
    assert len(llm.ended) == 1 and isinstance(llm.ended[0], DeadlineExceededError)
    # The probe could not decide: self-query is probed again by the next request, not marked as failed.
    assert not container.retriever().self_query.capability.probed
