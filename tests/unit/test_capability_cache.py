"""Capability probes as a service start runs them, against a fake OpenAI-compatible server that counts its
calls: one call per step on the first start, none on the next, and again when the model changes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from llm_engineering import bootstrap
from llm_engineering.settings import Settings, load_settings
from tests.unit.application.rag.fakes import BagOfWordsEmbedder, ScriptedLLM


class FakeLLMServer(ThreadingHTTPServer):
    """Answers `/v1/models` and `/v1/chat/completions` like the 270M base model (it fails both probes)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.chat_calls = 0
        self.owned_by = "fake-engine"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: FakeLLMServer

    def do_GET(self) -> None:
        if self.path != "/v1/models":
            return self._json(404, {"error": "not found"})
        self._json(200, {"data": [{"id": "twin", "object": "model", "owned_by": self.server.owned_by}]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.chat_calls += 1
        reply = "I am Lena Fischer. I am a student at the"
        self._json(200, {"choices": [{"message": {"role": "assistant", "content": reply}, "finish_reason": "length"}]})

    def _json(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _settings(tmp_path: Path, server: FakeLLMServer, **overrides: object) -> Settings:
    return load_settings(
        env_file=tmp_path / "none.env",
        LOCAL_DATA_DIR=tmp_path / "local",
        LLM_BASE_URL=server.url,
        LLM_MODEL_ID="twin",
        RERANKER="bi-encoder",
        LLM_MAX_RETRIES=0,
        **overrides,
    )


def start(settings: Settings, **adapters: object) -> dict[str, str]:
    """One service start's probes (what the API's warm-up runs), in a container of its own."""
    container = bootstrap.Container(settings, embedder=BagOfWordsEmbedder(), **adapters)
    try:
        return container.retriever().probe_capabilities()
    finally:
        container.close()


def test_a_restart_on_the_same_model_makes_no_probe_call(tmp_path, llm_server):
    settings = _settings(tmp_path, llm_server)
    first = start(settings)
    assert llm_server.chat_calls == 2  # one short call per step
    assert all(reason.startswith("model failed the capability probe") for reason in first.values())
    assert (tmp_path / "local" / "cache" / "capabilities.json").is_file()

    second = start(settings)
    assert llm_server.chat_calls == 2  # nothing asked
    assert all(reason.startswith("model failed the capability probe") for reason in second.values())
    assert all("; cached " in reason for reason in second.values())

    start(_settings(tmp_path, llm_server, RAG_REPROBE_CAPABILITIES=True))
    assert llm_server.chat_calls == 4


def test_the_cache_follows_the_model_files_and_the_served_entry(tmp_path, llm_server):
    settings = _settings(tmp_path, llm_server)
    start(settings)
    assert llm_server.chat_calls == 2

    model_dir = tmp_path / "local" / "models" / "twin"  # the local server's folder for LLM_MODEL_ID
    model_dir.mkdir(parents=True)
    (model_dir / "config.json").write_text('{"hidden_size": 640}')
    start(settings)
    start(settings)
    assert llm_server.chat_calls == 4  # a new key once, then cached again

    (model_dir / "config.json").write_text('{"hidden_size": 1024}')  # another model in the same folder
    start(settings)
    assert llm_server.chat_calls == 6

    llm_server.owned_by = "another-engine"  # the same files served by another engine
    start(settings)
    assert llm_server.chat_calls == 8


def test_an_injected_llm_keeps_no_verdicts(tmp_path, llm_server):
    settings = _settings(tmp_path, llm_server)
    start(settings, llm=ScriptedLLM("I am Lena Fischer.", "The first way is"))
    assert not (tmp_path / "local" / "cache").exists()
