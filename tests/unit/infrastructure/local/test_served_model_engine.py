"""The local LLM server as the serving engine: nothing to do when none runs; a running one prepares the model's
GGUF and loads it with a one-token request; a failure says which model and why."""

from __future__ import annotations

import pytest

from llm_engineering.application.errors import ServingEngineError
from llm_engineering.bootstrap import local_engine_options
from llm_engineering.infrastructure.errors import LocalLLMError
from llm_engineering.infrastructure.local import llm_server
from llm_engineering.infrastructure.local.llm_server import ServerStatus
from llm_engineering.infrastructure.local.served_model_engine import LocalServerEngine
from llm_engineering.settings import load_settings


class FakeServer:
    def __init__(self, healthy: bool, fail: bool = False):
        self.healthy = healthy
        self.fail = fail
        self.calls: list[str] = []

    def status(self):
        return ServerStatus(running=self.healthy, healthy=self.healthy, pid=7 if self.healthy else None, url="u")

    def prepare(self):
        self.calls.append("prepare")
        return "local LLM: serving 'llm_twin-v2' from its registered export"

    def ensure_model(self, model_id, timeout_s):
        self.calls.append(f"ensure {model_id}")
        if self.fail:
            raise LocalLLMError("HTTP 404 model_not_found")
        return f"local LLM: model {model_id!r} ready"


@pytest.fixture
def engine(tmp_path, monkeypatch):
    built = {}

    def fake_server(settings, model_id=None):
        built["model_id"] = model_id
        return built["server"]

    monkeypatch.setattr(llm_server, "local_llm_server", fake_server)
    settings = load_settings(env_file=tmp_path / "none.env", LOCAL_DATA_DIR=tmp_path, LOCAL_LLM_PORT=18555)
    return LocalServerEngine(local_engine_options(settings), timeout_s=5), built


def test_no_running_server_is_nothing_to_load(engine):
    switch, built = engine
    built["server"] = FakeServer(healthy=False)
    assert switch.load("llm_twin-v2") is None
    assert built["server"].calls == []


def test_a_running_server_prepares_and_loads_the_model(engine):
    switch, built = engine
    built["server"] = FakeServer(healthy=True)
    report = switch.load("llm_twin-v2")
    assert built["model_id"] == "llm_twin-v2" and built["server"].calls == ["prepare", "ensure llm_twin-v2"]
    assert "registered export" in report and "ready" in report


def test_a_server_that_cannot_load_it_is_a_serving_engine_error(engine):
    switch, built = engine
    built["server"] = FakeServer(healthy=True, fail=True)
    with pytest.raises(ServingEngineError, match=r"on port 18555 could not load 'llm_twin-v2': HTTP 404"):
        switch.load("llm_twin-v2")
