"""Warm before ready: `/ready` says `warming_up` (503) until the embedder is loaded and the warm-up has ended,
`/health` and `/ready` answer meanwhile, and the first `/retrieve` after ready loads nothing again (fakes, the
ASGI app in this process; the real-process check is tests/e2e/test_api_warm_up.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient

from llm_engineering import bootstrap
from llm_engineering.application.deadline import Deadline
from llm_engineering.bootstrap import Container
from llm_engineering.entrypoints.api import create_app
from llm_engineering.entrypoints.api.warm_up import WarmUp, WarmUpStage
from llm_engineering.settings import load_settings
from tests.unit.application.rag.fakes import BagOfWordsEmbedder, ScriptedLLM, insert_rerank_chunks
from tests.waiting import CEILING_S

STAGES = ["embedder", "reranker", "search", "capability probes"]


class SlowLoadingEmbedder(BagOfWordsEmbedder):
    """A bag-of-words embedder whose model "loads" on first use: it waits for `release`, and counts loads.
    With `fail_first`, the first load raises (a model that could not be read), the next one works."""

    def __init__(self, fail_first: bool = False):
        self.release = threading.Event()
        self.loads = 0
        self.load_attempts = 0
        self.embedded: list[str] = []
        self._fail_first = fail_first
        self._loaded = False
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> list[list[float]]:
        with self._lock:
            if not self._loaded:
                self.load_attempts += 1
                if not self.release.wait(timeout=CEILING_S):
                    raise TimeoutError("the test never released the model load")
                if self._fail_first and self.load_attempts == 1:
                    raise OSError("model.safetensors: truncated file")
                self.loads += 1
                self._loaded = True
        self.embedded.extend(texts)
        return super().embed(texts, batch_size)


class SlowLoadingCrossEncoder:
    """A reranker with a model of its own (as the cross-encoder): loaded on first score, once `release` is set."""

    name = "cross-encoder:fake"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.loads = 0
        self.scored: list[str] = []
        self._lock = threading.Lock()

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        with self._lock:
            if not self.loads:
                if not self.release.wait(timeout=CEILING_S):
                    raise TimeoutError("the test never released the model load")
                self.loads += 1
        self.scored.append(query)
        return [float(len(set(query.split()) & set(text.split()))) for text in texts]


class Store:
    def ping(self) -> None:
        return None


@pytest.fixture
def warm_app(tmp_path):
    """An app with the real warm-up on a slow-loading fake embedder, fake stores and a scripted LLM."""
    from llm_engineering.domain.base.vector import VectorIndex
    from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore

    stores: list[QdrantVectorStore] = []

    def build(embedder: SlowLoadingEmbedder, reranker: object | None = None):  # type: ignore[no-untyped-def]
        store = QdrantVectorStore(path=":memory:")
        stores.append(store)
        insert_rerank_chunks(VectorIndex(store), BagOfWordsEmbedder())  # the same vectors, without loading the slow one
        settings = load_settings(
            env_file=tmp_path / "none.env",
            RERANKER="bi-encoder",
            RAG_SELF_QUERY="off",
            RAG_QUERY_EXPANSION="off",
            LOCAL_DATA_DIR=tmp_path / "local",
        )
        container = Container(
            settings, warehouse=Store(), vector_store=store, embedder=embedder, reranker=reranker, llm=ScriptedLLM()
        )
        return create_app(settings, container=container)

    yield build
    bootstrap.reset()
    for store in stores:
        store.close()


def _ready_when_warm(client: TestClient, timeout_s: float = CEILING_S):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get("/ready")
        if response.json()["status"] != "warming_up" or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_ready_says_warming_up_until_the_embedder_is_loaded_and_the_first_retrieve_loads_nothing(warm_app):
    embedder = SlowLoadingEmbedder()
    with TestClient(warm_app(embedder)) as client:  # `with`: the lifespan runs, and starts the warm-up
        started = time.monotonic()
        assert client.get("/health").json() == {"status": "ok"}
        warming = client.get("/ready")
        assert time.monotonic() - started < 5  # both answered while the model "loads"
        assert warming.status_code == 503
        assert warming.json()["status"] == "warming_up"
        assert warming.json()["waiting_for"] == STAGES
        assert embedder.loads == 0

        embedder.release.set()
        ready = _ready_when_warm(client)
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready" and "waiting_for" not in ready.json()
        assert set(ready.json()["checks"]) == {"warehouse", "vector_store", "llm"}
        assert embedder.loads == 1

        found = client.post("/retrieve", json={"query": "rerank passages", "k": 2})
        assert found.status_code == 200, found.text
        assert len(found.json()["passages"]) == 2
        assert embedder.loads == 1  # loaded by the warm-up, not by the first question
        assert embedder.embedded[-1] == "rerank passages"


def test_a_cross_encoder_is_loaded_before_ready_too(warm_app):
    embedder, reranker = SlowLoadingEmbedder(), SlowLoadingCrossEncoder()
    embedder.release.set()
    with TestClient(warm_app(embedder, reranker)) as client:
        deadline = time.monotonic() + CEILING_S
        while (warming := client.get("/ready").json()).get("waiting_for", [None])[0] != "reranker":
            assert time.monotonic() < deadline, warming
            time.sleep(0.05)
        assert warming["status"] == "warming_up" and reranker.loads == 0

        reranker.release.set()
        assert _ready_when_warm(client).status_code == 200
        assert reranker.loads == 1
        found = client.post("/retrieve", json={"query": "rerank passages", "k": 2})
        assert found.status_code == 200, found.text
        assert found.json()["metadata"]["retrieval"]["reranker"] == "cross-encoder:fake"
        assert reranker.loads == 1 and reranker.scored[-1] == "rerank passages"  # scored, not loaded again


def test_a_model_that_fails_to_load_keeps_ready_503_and_loads_again_behind_it(warm_app):
    embedder = SlowLoadingEmbedder(fail_first=True)
    embedder.release.set()
    with TestClient(warm_app(embedder)) as client:
        failed = _ready_when_warm(client)
        assert failed.status_code == 503
        body = failed.json()
        assert body["status"] == "unavailable" and "waiting_for" not in body
        assert body["checks"]["warm_up"] == {
            "ok": False,
            "detail": "embedder: OSError: model.safetensors: truncated file",
        }

        # That /ready started the warm-up again (the embedder only): the next answers see it succeed.
        deadline = time.monotonic() + CEILING_S
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, client.get("/ready").text
            time.sleep(0.05)
        assert (embedder.load_attempts, embedder.loads) == (2, 1)


def test_an_optional_stage_that_fails_is_logged_and_done_a_required_one_is_retried():
    calls: list[str] = []
    outcomes = {"model": [OSError("no weights"), None], "probe": [ConnectionError("LLM down")]}

    def stage(name: str):  # type: ignore[no-untyped-def]
        def run() -> None:
            calls.append(name)
            outcome = outcomes[name].pop(0) if outcomes[name] else None
            if outcome is not None:
                raise outcome

        return run

    warm_up = WarmUp([WarmUpStage("model", stage("model")), WarmUpStage("probe", stage("probe"), required=False)])
    assert warm_up.status().pending == ("model", "probe")

    first = warm_up.run(Deadline(5))
    assert first.pending == ("model",) and dict(first.failures) == {"model": "OSError: no weights"}
    second = warm_up.run(Deadline(5))
    assert second.finished and not second.failures
    assert calls == ["model", "probe", "model"]  # the optional stage is not run again
    assert warm_up.start() is False  # nothing left to do


def test_stop_ends_a_run_waiting_on_the_llm_and_no_run_starts_after_it():
    entered = threading.Event()

    def hung_probe() -> None:
        from llm_engineering.application.deadline import current_deadline

        entered.set()
        current_deadline().sleep(60)  # type: ignore[union-attr]

    warm_up = WarmUp([WarmUpStage("capability probes", hung_probe, required=False)], timeout_s=60)
    assert warm_up.start() is True
    assert entered.wait(CEILING_S)
    warm_up.stop("the service is stopping")
    status = warm_up.wait(CEILING_S)
    assert status.pending == ("capability probes",)  # cancelled, not counted as done nor as failed
    assert not status.failures
    assert warm_up.start() is False


def test_an_app_without_a_warm_up_is_ready_at_once(tmp_path):
    settings = load_settings(env_file=tmp_path / "none.env", LOCAL_DATA_DIR=tmp_path / "local")
    container = Container(settings, warehouse=Store(), vector_store=Store(), llm=ScriptedLLM())
    try:
        with TestClient(create_app(settings, container=container, warm_up_on_start=False)) as client:
            response = client.get("/ready")
    finally:
        bootstrap.reset()
    assert response.status_code == 200 and response.json()["status"] == "ready", response.text
