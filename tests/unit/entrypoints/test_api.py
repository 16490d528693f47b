"""The FastAPI app with its dependencies swapped through `Depends` overrides (no stores, no models)."""

import pytest
from fastapi.testclient import TestClient

from llm_engineering import bootstrap
from llm_engineering.application.errors import LLMResponseError, LLMTimeoutError
from llm_engineering.application.rag.answering import AnswerGenerator
from llm_engineering.bootstrap import Container
from llm_engineering.domain.exceptions import VectorStoreLockedError, WarehouseUnavailableError
from llm_engineering.entrypoints.api import create_app
from llm_engineering.entrypoints.api.dependencies import get_answer_generator, get_retriever
from llm_engineering.settings import load_settings
from tests.unit.application.rag.fakes import OnePassageRetriever, ScriptedLLM

FakeRetriever = OnePassageRetriever


@pytest.fixture
def make_client(tmp_path):
    def build(retriever=None, llm=None, **settings_overrides):
        settings = load_settings(env_file=tmp_path / "none.env", RAG_MAX_QUERY_CHARS=50, **settings_overrides)
        app = create_app(settings, container=Container(settings), warm_up_on_start=False)
        chosen_retriever = retriever or FakeRetriever()
        chosen_llm = llm or ScriptedLLM("An answer.")
        app.dependency_overrides[get_retriever] = lambda: lambda: chosen_retriever
        app.dependency_overrides[get_answer_generator] = lambda: lambda: AnswerGenerator(chosen_llm)
        return TestClient(app), chosen_retriever, chosen_llm

    return build


def test_rag_answers_with_sources_and_uses_settings_defaults(make_client):
    client, retriever, llm = make_client(RAG_TOP_K=4, RAG_EXPAND_TO_N_QUERIES=2)
    response = client.post("/rag", json={"query": "  Why rerank?  ", "max_new_tokens": 12})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] == "An answer."
    assert body["sources"][0]["link"] == "https://quillon.example/rerank"
    assert retriever.calls == [("Why rerank?", 4, 2)]
    assert llm.parameters[0].max_new_tokens == 12
    assert body["metadata"]["generation"]["model_id"] == "scripted"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": ""}, "query"),
        ({"query": " \n "}, "query"),
        ({"query": "x" * 51}, "query"),
        ({"query": "q", "k": 51}, "k"),
        ({"query": "q", "top_p": 2}, "top_p"),
        ({"query": "q", "max_new_tokens": 0}, "max_new_tokens"),
        ({"query": "q", "extra": True}, "extra"),
    ],
)
def test_validation_errors_are_422_naming_the_field(make_client, body, field):
    client, retriever, _ = make_client()
    response = client.post("/rag", json=body)
    assert response.status_code == 422
    assert field in {str(part) for error in response.json()["detail"] for part in error["loc"]}
    assert retriever.calls == []


@pytest.mark.parametrize(
    ("retriever_error", "llm_reply", "dependency"),
    [
        (VectorStoreLockedError("folder held by another process"), "x", "vector store (Qdrant)"),
        (WarehouseUnavailableError("no server on 27017"), "x", "data warehouse (MongoDB)"),
        (None, LLMTimeoutError("LLM server timed out"), "LLM service"),
        (None, LLMResponseError("not json"), "LLM service"),
    ],
)
def test_dependency_failures_are_503_naming_the_dependency(make_client, retriever_error, llm_reply, dependency):
    client, _, _ = make_client(retriever=FakeRetriever(retriever_error), llm=ScriptedLLM(llm_reply))
    response = client.post("/rag", json={"query": "q"})
    assert response.status_code == 503
    assert response.json()["dependency"] == dependency
    assert response.json()["detail"].startswith(f"{dependency} unavailable: ")


def test_retriever_value_errors_are_422_and_bugs_are_500(make_client):
    client, _, _ = make_client(retriever=FakeRetriever(ValueError("the query is empty")))
    assert client.post("/rag", json={"query": "q"}).status_code == 422
    client, _, _ = make_client(retriever=FakeRetriever(KeyError("bug")))
    assert client.post("/rag", json={"query": "q"}).status_code == 500


def test_health_needs_nothing(make_client):
    client, _, _ = make_client()
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_names_each_dependency_from_the_injected_container(tmp_path):
    from llm_engineering.application.errors import LLMUnavailableError

    class DownLLM(ScriptedLLM):
        def ping(self):
            raise LLMUnavailableError("nothing listens on 127.0.0.1:9")

    class Store:
        def __init__(self):
            self.pings = 0

        def ping(self):
            self.pings += 1

    settings = load_settings(env_file=tmp_path / "none.env")
    warehouse, vector_store = Store(), Store()
    container = Container(settings, warehouse=warehouse, vector_store=vector_store, llm=DownLLM("x"))
    client = TestClient(create_app(settings, container=container, warm_up_on_start=False))
    try:
        response = client.get("/ready")
    finally:
        bootstrap.reset()
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["warehouse"]["ok"] and checks["vector_store"]["ok"]
    assert not checks["llm"]["ok"] and "127.0.0.1:9" in checks["llm"]["detail"]
    assert (warehouse.pings, vector_store.pings) == (1, 1)


def test_retrieve_returns_passages_and_documents_and_never_calls_the_llm(tmp_path):
    from llm_engineering.domain.base.vector import VectorIndex
    from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore
    from tests.unit.application.rag.fakes import RERANK_TEXTS, BagOfWordsEmbedder, NoLLM, insert_rerank_chunks

    embedder = BagOfWordsEmbedder()
    store = QdrantVectorStore(path=":memory:")
    insert_rerank_chunks(VectorIndex(store), embedder)
    settings = load_settings(env_file=tmp_path / "none.env", RERANKER="bi-encoder", RAG_SELF_QUERY="on")
    container = Container(settings, vector_store=store, warehouse=object(), embedder=embedder, llm=NoLLM("x"))
    client = TestClient(create_app(settings, container=container, warm_up_on_start=False))
    try:
        response = client.post("/retrieve", json={"query": "rerank passages", "k": 2})
        assert client.post("/retrieve", json={"query": "  "}).status_code == 422
    finally:
        bootstrap.reset()
        store.close()
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["number"] for p in body["passages"]] == [1, 2]
    assert {p["content"] for p in body["passages"]} == set(RERANK_TEXTS[:2])
    assert len(body["sources"]) == 1 and len(body["sources"][0]["chunk_ids"]) == 2
    paths = body["metadata"]["retrieval"]["paths"]
    assert paths["self_query"].startswith("skipped") and paths["query_expansion"].startswith("skipped")
