"""Nothing leaves the machine uninvited: the feature pipeline (`tools.run`) and the RAG API (uvicorn, with Opik
tracing on to a stand-in backend) run as real subprocesses whose every connection and name lookup is
recorded, and refused off the loopback, by tests/fixtures/network_audit. Every vendor opt-out variable and
offline switch is removed from their environment first: the project's own defaults must keep them quiet."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from llm_engineering.telemetry import OPT_IN_VARIABLE, VENDOR_OPT_OUTS
from tests.conftest import PROJECT_ROOT, free_port
from tests.fixtures.network_audit import audited_environment, contacts, outside_contacts
from tests.fixtures.opik_collector import OpikCollector, running_opik_collector
from tests.waiting import CEILING_S

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# What the test session sets to keep things quiet and offline: the processes under test must do without.
SCRUBBED = {
    *VENDOR_OPT_OUTS,
    OPT_IN_VARIABLE,
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "DO_NOT_TRACK",
    "PYTEST_CURRENT_TEST",
}
# opik.analytics.api.BATCH_TIMEOUT_SECONDS in the locked opik.
OPIK_ANALYTICS_BATCH_S = 5.0
ANSWER = "Qdrant keeps a JSON payload next to each vector and filters on it while searching."


class _ScriptedLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible server on 127.0.0.1 that always gives ANSWER."""

    def do_GET(self) -> None:
        self._send({"data": [{"id": "scripted", "object": "model"}]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        message = {"role": "assistant", "content": ANSWER}
        choice = {"index": 0, "message": message, "text": ANSWER, "finish_reason": "stop"}
        usage = {"prompt_tokens": 10, "completion_tokens": 12, "total_tokens": 22}
        self._send({"id": "x", "model": "scripted", "choices": [choice], "usage": usage})

    def _send(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def scripted_llm() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedLLM)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def collector() -> Iterator[OpikCollector]:
    with running_opik_collector() as running:
        yield running


@pytest.fixture(scope="module")
def project_environment(
    mongo_uri: str, tmp_path_factory: pytest.TempPathFactory, scripted_llm: str, collector: OpikCollector
) -> dict[str, str]:
    """Settings for the processes under test: a seeded warehouse database, a fresh Qdrant folder and ZenML
    store, the scripted LLM and Opik pointed at the stand-in backend; no opt-out variable anywhere."""
    from llm_engineering.domain.base.nosql import DocumentRepository
    from llm_engineering.infrastructure.db.mongo import MongoWarehouse
    from tests.integration.test_feature_pipeline import seed_fixture_documents

    root = tmp_path_factory.mktemp("no-telemetry")
    database = f"quiet_{uuid.uuid4().hex[:8]}"
    warehouse = MongoWarehouse(mongo_uri, database, unique_fields={"articles": ("link",)})
    try:
        seed_fixture_documents(DocumentRepository(warehouse))
    finally:
        warehouse.close()
    return {
        "ENV_FILE": str(PROJECT_ROOT / "tests" / "no.env"),
        "DATABASE_HOST": mongo_uri,
        "DATABASE_NAME": database,
        "QDRANT_LOCAL_PATH": str(root / "qdrant"),
        "LOCAL_DATA_DIR": str(root / "local"),
        "ZENML_CONFIG_PATH": str(root / "zenml"),
        "LLM_BASE_URL": scripted_llm,
        "LLM_MODEL_ID": "scripted",
        "LLM_MAX_RETRIES": "0",
        "RAG_SELF_QUERY": "off",
        "RAG_QUERY_EXPANSION": "off",
        "OPIK_URL_OVERRIDE": collector.url,
        "OPIK_PROJECT_NAME": "twin-quiet",
    }


def _environment(log: Path, settings: dict[str, str]) -> dict[str, str]:
    import os

    base = {name: value for name, value in os.environ.items() if name not in SCRUBBED}
    return {**audited_environment(log, base=base), **settings}


def _describe(log: Path) -> str:
    return "\n".join(f"{c.event} {c.host}:{c.port} from {c.argv}" for c in outside_contacts(log))


@pytest.fixture(scope="module")
def feature_run(project_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The feature pipeline as a user runs it (`poe run-feature-engineering-pipeline`), audited."""
    folder = tmp_path_factory.mktemp("feature-run")
    log = folder / "network.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "tools.run", "--no-cache", "--run-feature-engineering"],
        check=False,
        cwd=PROJECT_ROOT,
        env=_environment(log, project_environment),
        capture_output=True,
        text=True,
        timeout=900,
    )
    return {"result": result, "log": log}


def test_the_feature_pipeline_reaches_nothing_off_the_machine(feature_run: dict[str, Any]) -> None:
    result, log = feature_run["result"], feature_run["log"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert outside_contacts(log) == [], _describe(log)
    # The recorder saw the run's own traffic: the warehouse on the loopback.
    assert any(contact.event == "socket.connect" for contact in contacts(log))


def test_the_api_with_opik_tracing_reaches_only_what_was_configured(
    feature_run: dict[str, Any], project_environment: dict[str, str], collector: OpikCollector, tmp_path: Path
) -> None:
    from llm_engineering.infrastructure.local.api_server import api_command
    from llm_engineering.infrastructure.local.processes import stop_process, wait_http_ok

    assert feature_run["result"].returncode == 0  # the API serves the features the run built
    log, api_log = tmp_path / "network.jsonl", tmp_path / "api.log"
    port = free_port()
    with api_log.open("w") as output:
        process = subprocess.Popen(
            api_command("tools.ml_service:app", "127.0.0.1", port),
            cwd=PROJECT_ROOT,
            env=_environment(log, project_environment),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_http_ok(f"{base}/health", CEILING_S, process=process), api_log.read_text()[-3000:]
        response = httpx.post(f"{base}/rag", json={"query": "How does Qdrant store vectors?"}, timeout=300)
        assert response.status_code == 200, response.text
        trace_id = response.json()["metadata"]["trace_id"]
        assert trace_id
        deadline = time.monotonic() + CEILING_S
        while trace_id not in collector.traces and time.monotonic() < deadline:
            time.sleep(0.5)
        assert trace_id in collector.traces  # Opik was on, and sent its trace where it was told
        # A user's feedback goes through the Opik client, whose calls Opik counts in its product analytics.
        feedback = httpx.post(
            f"{base}/feedback", json={"trace_id": trace_id, "score": 1, "reason": "ok"}, timeout=CEILING_S
        )
        assert feedback.status_code == 200 and feedback.json()["recorded"] is True, feedback.text
        # Opik sends its analytics in batches after 5 s of quiet, and uvicorn's SIGTERM exit skips atexit
        # flushes: stay up long enough that a batch would have gone out.
        time.sleep(OPIK_ANALYTICS_BATCH_S + 3)
    finally:
        stop_process(process, timeout_s=30)

    assert outside_contacts(log) == [], _describe(log)
    collector_port = int(collector.url.split(":")[-1].split("/")[0])
    assert any(contact.port == collector_port for contact in contacts(log))
