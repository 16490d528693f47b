"""The RAG API end to end, through real uvicorn processes: nx-27017 warehouse, Qdrant local folder populated
before the server starts, the MiniLM embedder, and a real LLM server process (tiny model)."""

from __future__ import annotations

import asyncio
import re
import shutil
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.rag_fixtures import (
    DEMO_AUTHOR,
    RESPONSE_CEILING_S,
    SERVER_TEST_TIMEOUT_S,
    index_demo_corpus_into,
    running_api,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(SERVER_TEST_TIMEOUT_S)]


@pytest.fixture(scope="module")
def populated(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A warehouse database and a Qdrant folder holding the demo corpus, released by this process."""
    root = tmp_path_factory.mktemp("rag-api")
    database = f"api_{uuid.uuid4().hex[:8]}"
    chunks = index_demo_corpus_into(mongo_uri, database, root / "qdrant")
    # A copy for the server whose LLM is down, which runs beside the healthy one.
    shutil.copytree(root / "qdrant", root / "qdrant-copy")
    return {"root": root, "database": database, "chunks": chunks}


def _environment(populated: dict, mongo_uri: str, llm_base_url: str, llm_model: str, qdrant: Path) -> dict[str, str]:
    return {
        "DATABASE_HOST": mongo_uri,
        "DATABASE_NAME": populated["database"],
        "QDRANT_LOCAL_PATH": str(qdrant),
        "LOCAL_DATA_DIR": str(populated["root"] / "local"),
        "LLM_BASE_URL": llm_base_url,
        "LLM_MODEL_ID": llm_model,
        "LLM_MAX_RETRIES": "0",
        "LLM_TIMEOUT_S": "30",
        "MAX_NEW_TOKENS_INFERENCE": "8",
        "RAG_MAX_QUERY_CHARS": "300",
        "RAG_TOP_K": "3",
        "HF_HUB_OFFLINE": "1",
    }


@pytest.fixture(scope="module")
def api(populated, mongo_uri, llm_server) -> str:
    environment = _environment(
        populated, mongo_uri, llm_server["base_url"], llm_server["model_id"], populated["root"] / "qdrant"
    )
    with running_api(environment, populated["root"]) as base:
        yield base


def test_health_ready_and_an_answer_with_sources(api, populated):
    assert httpx.get(f"{api}/health", timeout=RESPONSE_CEILING_S).json() == {"status": "ok"}
    ready = httpx.get(f"{api}/ready", timeout=RESPONSE_CEILING_S)
    assert ready.status_code == 200, ready.text
    assert {name for name, check in ready.json()["checks"].items() if check["ok"]} == {
        "warehouse",
        "vector_store",
        "llm",
    }

    response = httpx.post(
        f"{api}/rag",
        json={"query": "Why should retrieved passages be reranked before prompting?", "k": 2, "temperature": 0.5},
        timeout=RESPONSE_CEILING_S,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body["answer"], str)
    retrieval, generation = body["metadata"]["retrieval"], body["metadata"]["generation"]
    # Sources are documents: every prompt passage belongs to exactly one; [n] in the answer is source n.
    assert sum(len(source["chunk_ids"]) for source in body["sources"]) == generation["passages_in_prompt"] == 2
    assert [source["number"] for source in body["sources"]] == list(range(1, generation["sources_in_prompt"] + 1))
    assert {int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])} <= {s["number"] for s in body["sources"]}
    assert len({source["document_id"] for source in body["sources"]}) == len(body["sources"])
    assert body["sources"][0]["link"].endswith("rerank-before-you-prompt")
    assert {source["author"] for source in body["sources"]} == {DEMO_AUTHOR}
    assert retrieval["reranker"] == "fusion (dense + keyword)" and retrieval["paths"]["search"] == "hybrid"
    # The tiny model fails the one-time capability probe: self-query and expansion are skipped, not retried.
    assert retrieval["paths"]["self_query"].startswith("skipped: model failed the capability probe")
    assert retrieval["paths"]["query_expansion"].startswith("skipped: model failed the capability probe")
    assert generation["model_id"].startswith("tiny-twin")
    assert generation["temperature"] == 0.5
    assert generation["max_new_tokens"] == 8


@pytest.mark.parametrize(
    "body",
    [
        {"query": ""},
        {"query": "   "},
        {"query": "x" * 301},
        {"query": "ok", "k": 0},
        {"query": "ok", "k": "many"},
        {"query": "ok", "temperature": 5},
        {"query": "ok", "top_p": 0},
        {"query": "ok", "expand_to_n_queries": 11},
        {"query": "ok", "unknown": 1},
        {},
    ],
)
def test_bad_requests_are_422_with_the_field_named(api, body):
    response = httpx.post(f"{api}/rag", json=body, timeout=RESPONSE_CEILING_S)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    named = {str(part) for error in detail for part in error["loc"]}
    assert named & {"query", "k", "temperature", "top_p", "expand_to_n_queries", "unknown"}


def test_bounded_concurrency_all_succeed_and_health_is_not_blocked(api):
    async def scenario() -> tuple[list[int], list[int], int]:
        async with httpx.AsyncClient(base_url=api, timeout=RESPONSE_CEILING_S) as client:
            rag_tasks = [
                asyncio.create_task(client.post("/rag", json={"query": f"How should I chunk my notes? ({i})"}))
                for i in range(20)
            ]
            health_codes: list[int] = []
            answered_while_busy = 0
            while not all(task.done() for task in rag_tasks):
                response = await client.get("/health")
                health_codes.append(response.status_code)
                if not all(task.done() for task in rag_tasks):
                    answered_while_busy += 1
                await asyncio.sleep(0.05)
            rag_codes = [task.result().status_code for task in rag_tasks]
            return rag_codes, health_codes, answered_while_busy

    rag_codes, health_codes, answered_while_busy = asyncio.run(scenario())
    assert rag_codes == [200] * 20
    assert health_codes and set(health_codes) == {200}
    # /health kept answering while the 20 requests were in flight: the event loop was never blocked.
    assert answered_while_busy >= 1


def test_llm_down_is_503_naming_the_llm(populated, mongo_uri):
    closed = f"http://127.0.0.1:{free_port()}/v1"
    environment = _environment(populated, mongo_uri, closed, "tiny-twin", populated["root"] / "qdrant-copy")
    with running_api(environment, populated["root"]) as base:
        response = httpx.post(f"{base}/rag", json={"query": "Why rerank?"}, timeout=RESPONSE_CEILING_S)
        assert response.status_code == 503, response.text
        assert response.json()["dependency"] == "LLM service"
        assert "LLM service unavailable" in response.json()["detail"]
        ready = httpx.get(f"{base}/ready", timeout=RESPONSE_CEILING_S)
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert (checks["llm"]["ok"], checks["warehouse"]["ok"], checks["vector_store"]["ok"]) == (False, True, True)
        # Retrieval alone never needs the LLM, so it still answers.
        found = httpx.post(
            f"{base}/retrieve", json={"query": "Why rerank passages?", "k": 3}, timeout=RESPONSE_CEILING_S
        )
        assert found.status_code == 200, found.text
        body = found.json()
        assert [passage["number"] for passage in body["passages"]] == [1, 2, 3]
        assert body["passages"][0]["content"]
        numbers = [source["number"] for source in body["sources"]]
        assert numbers == list(range(1, len(numbers) + 1))
        assert {passage["source"] for passage in body["passages"]} == set(numbers)


def test_vector_store_locked_is_503_naming_the_store(populated, mongo_uri, llm_server, tmp_path):
    from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore

    holder = QdrantVectorStore(path=tmp_path / "held")
    holder.ping()  # this test process holds the folder, as a running pipeline would
    try:
        environment = _environment(
            populated, mongo_uri, llm_server["base_url"], llm_server["model_id"], tmp_path / "held"
        )
        with running_api(environment, populated["root"]) as base:
            response = httpx.post(f"{base}/rag", json={"query": "Why rerank?"}, timeout=RESPONSE_CEILING_S)
            assert response.status_code == 503, response.text
            assert response.json()["dependency"] == "vector store (Qdrant)"
            assert "another process" in response.json()["detail"]
            assert (
                httpx.get(f"{base}/ready", timeout=RESPONSE_CEILING_S).json()["checks"]["vector_store"]["ok"] is False
            )
    finally:
        holder.close()
