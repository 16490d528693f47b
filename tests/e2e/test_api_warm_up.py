"""Warm before ready, for real: `uvicorn tools.ml_service:app` on the demo corpus answers `/health` and `/ready`
(503 `warming_up`) while it loads the embedding model, says ready only once the model is loaded, and its first
`/retrieve` after that loads nothing (one "Loaded embedding model" line in its log, before ready)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.fixtures.stub_llm import StubLLM
from tests.rag_fixtures import RESPONSE_CEILING_S, SERVER_TEST_TIMEOUT_S, index_demo_corpus_into, running_api

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(SERVER_TEST_TIMEOUT_S)]

LOADED = "Loaded embedding model"
WARM_UP_TIMEOUT_S = 600


def test_ready_waits_for_the_model_and_the_first_question_loads_nothing(mongo_uri, tmp_path):
    index_demo_corpus_into(mongo_uri, "warm_up", tmp_path / "qdrant")
    with StubLLM() as llm:
        environment = {
            "DATABASE_HOST": mongo_uri,
            "DATABASE_NAME": "warm_up",
            "QDRANT_LOCAL_PATH": str(tmp_path / "qdrant"),
            "LOCAL_DATA_DIR": str(tmp_path / "local"),
            "LLM_BASE_URL": llm.base_url,
            "LLM_MODEL_ID": llm.model_id,
            "LLM_MAX_RETRIES": "0",
            "HF_HUB_OFFLINE": "1",
        }
        with running_api(environment, tmp_path, wait_warm=False) as base:
            log = tmp_path / f"api-{base.rsplit(':', 1)[1]}.log"
            started = time.monotonic()
            warming = httpx.get(f"{base}/ready", timeout=RESPONSE_CEILING_S)
            assert warming.status_code == 503, warming.text
            assert warming.json()["status"] == "warming_up"
            assert warming.json()["waiting_for"][0] == "embedder"
            assert httpx.get(f"{base}/health", timeout=RESPONSE_CEILING_S).json() == {"status": "ok"}

            while (ready := httpx.get(f"{base}/ready", timeout=RESPONSE_CEILING_S)).json()["status"] == "warming_up":
                assert time.monotonic() - started < WARM_UP_TIMEOUT_S, ready.text
                time.sleep(0.2)
            assert ready.status_code == 200, ready.text
            assert log.read_text().count(LOADED) == 1  # loaded before ready said so

            for query in ("Why should retrieved passages be reranked?", "How does a sourdough starter rise?"):
                found = httpx.post(f"{base}/retrieve", json={"query": query, "k": 3}, timeout=RESPONSE_CEILING_S)
                assert found.status_code == 200, found.text
                assert len(found.json()["passages"]) == 3
            # The first question loaded nothing again (timings belong in bench/api_warm_up.py, not in a test).
            assert log.read_text().count(LOADED) == 1
