"""`tools.local_llm up --model SPEC` and `models`: registry specs resolved, the model published into the models
folder, the one local server reused, and what clients must set printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import llm_engineering.settings as settings_module
from llm_engineering.bootstrap import local_engine_options
from llm_engineering.infrastructure.local.llm_server import LocalLLMServer, ServerStatus
from llm_engineering.infrastructure.local.processes import free_port
from llm_engineering.model.registry import ModelRegistry
from llm_engineering.settings import load_settings
from tests.unit.model.test_registry import model_folder, register
from tools import local_llm


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """Settings pointing LOCAL_DATA_DIR at a temp folder, and a registry with one version of `twin`."""
    settings = load_settings(
        env_file=tmp_path / "none.env",
        LOCAL_DATA_DIR=tmp_path / "data",
        LOCAL_LLM_PORT=free_port(),  # no running server is asked to load the fake model
        LOCAL_LLM_ENGINE="transformers",  # the fake merged folder is no Gemma 3 twin llama.cpp could serve
    )
    monkeypatch.setattr(settings_module, "get_settings", lambda: settings)
    register(ModelRegistry(tmp_path / "data" / "registry"), tmp_path)
    return tmp_path / "data"


@pytest.fixture
def served(monkeypatch) -> list[str]:
    """Stubs the server start: records which model ids `up` asked to serve."""
    calls: list[str] = []

    def fake_serve(settings, model_id, timeout):
        calls.append(model_id)
        return f"local LLM: serving {model_id}"

    monkeypatch.setattr(local_llm, "_serve", fake_serve)
    return calls


def test_up_with_a_registry_spec_publishes_and_serves_it(data_dir, served):
    result = CliRunner().invoke(local_llm.main, ["up", "--model", "twin:latest"])

    assert result.exit_code == 0, result.output
    assert served == ["twin-v1"]
    link = data_dir / "models" / "twin-v1"
    assert link.is_symlink() and link.resolve() == (data_dir / "registry" / "twin" / "v1" / "dpo" / "merged").resolve()
    assert "Served model: twin:v1, as twin-v1." in result.output
    assert "The API asks twin-v1 from its next request on (no restart)." in result.output
    # Chosen: recorded as the served model, which the API and the next plain `up` follow.
    assert json.loads((data_dir / "models" / "served.json").read_text())["spec"] == "twin:v1"


def test_up_with_a_served_name_a_copy_and_a_path(data_dir, served, tmp_path):
    result = CliRunner().invoke(local_llm.main, ["up", "--model", "twin:1", "--served-name", "my-twin", "--copy"])
    assert result.exit_code == 0, result.output
    assert (data_dir / "models" / "my-twin" / "config.json").is_file()
    assert not (data_dir / "models" / "my-twin").is_symlink()
    assert "(copy)" in result.output

    folder = model_folder(tmp_path / "outside" / "hand-made")
    result = CliRunner().invoke(local_llm.main, ["up", "--model", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"Model folder: {folder}" in result.output
    assert served == ["my-twin", "hand-made"]
    assert "not chosen: the API keeps asking gemma-3-270m-twin" in result.output
    assert not (data_dir / "models" / "served.json").exists()  # a folder or another name is served, not chosen


@pytest.mark.parametrize(
    ("spec", "message"),
    [("twin:v7", "has no version v7; it has v1"), ("ghost", "No model 'ghost'"), ("twin:beta", "Bad version")],
)
def test_up_with_a_bad_spec_says_why_and_starts_nothing(data_dir, served, spec, message):
    result = CliRunner().invoke(local_llm.main, ["up", "--model", spec])
    assert result.exit_code == 1
    assert message in result.output
    assert served == []


def test_up_says_when_the_model_id_is_already_configured(data_dir, served, monkeypatch, tmp_path):
    settings = load_settings(
        env_file=tmp_path / "none.env",
        LOCAL_DATA_DIR=data_dir,
        LLM_MODEL_ID="twin-v1",
        LOCAL_LLM_PORT=free_port(),
        LOCAL_LLM_ENGINE="transformers",
    )
    monkeypatch.setattr(settings_module, "get_settings", lambda: settings)
    result = CliRunner().invoke(local_llm.main, ["up", "--model", "twin"])
    assert result.exit_code == 0, result.output
    assert "The API asks twin-v1 from its next request on" in result.output

    result = CliRunner().invoke(local_llm.main, ["up", "--model", "base"])
    assert result.exit_code == 0, result.output
    assert "LLM_MODEL_ID=twin-v1 is set, so the API keeps asking twin-v1" in result.output


class FakeServer:
    notice = None

    def __init__(self, healthy: bool):
        self.healthy = healthy
        self.url = "http://127.0.0.1:18001/v1"
        self.calls: list[str] = []

    def prepare(self):
        self.calls.append("prepare")

    def status(self):
        return ServerStatus(
            running=self.healthy, healthy=self.healthy, pid=4242 if self.healthy else None, url=self.url
        )

    def ensure_model(self, model_id, timeout_s):
        self.calls.append(f"ensure {model_id}")
        return f"local LLM: model {model_id!r} ready"

    def start(self, timeout_s):
        self.calls.append("start")
        return "local LLM: started"


@pytest.mark.parametrize(
    ("healthy", "expected"), [(True, ["prepare", "ensure twin-v1"]), (False, ["prepare", "start"])]
)
def test_a_running_server_is_reused_not_restarted(monkeypatch, healthy, expected):
    server = FakeServer(healthy)
    chosen = []

    def fake_server(settings, model_id=None):
        chosen.append(model_id)
        return server

    monkeypatch.setattr(local_llm, "_server", fake_server)
    message = local_llm._serve(object(), "twin-v1", timeout=5)
    assert server.calls == expected and chosen == ["twin-v1"]
    if healthy:
        assert "not restarted" in message and "(pid 4242)" in message


def test_the_project_server_serves_the_whole_models_folder(tmp_path):
    """Unpinned, `transformers serve` loads any folder of its working directory (the models folder) by the
    request's model name: the base model and every published twin share one server."""
    settings = load_settings(env_file=tmp_path / "none.env", LOCAL_DATA_DIR=tmp_path, LLM_MODEL_ID="base")
    server = LocalLLMServer.from_options(local_engine_options(settings))
    command = server.command()
    assert not server.pinned
    assert command[1] == "serve" and "base" not in command and "--model-timeout=-1" in command
    assert server.model_dir == tmp_path.resolve() / "models" / "base"

    twin = LocalLLMServer.from_options(local_engine_options(settings), model_id="twin-v1")
    assert twin.served_model_id == "twin-v1" and twin.pid_file == server.pid_file  # the same daemon

    target = model_folder(tmp_path / "registry" / "merged")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "twin-v1").symlink_to(target, target_is_directory=True)
    linked = LocalLLMServer.from_options(local_engine_options(settings), model_id="twin-v1")
    assert linked.model_dir.name == "twin-v1" and linked.model_dir.parent == (tmp_path / "models").resolve()


def test_models_lists_versions_with_key_metrics(data_dir, served, tmp_path):
    register(ModelRegistry(data_dir / "registry"), tmp_path)
    CliRunner().invoke(local_llm.main, ["up", "--model", "twin:v2"])

    result = CliRunner().invoke(local_llm.main, ["models"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == "twin"
    v1 = next(line for line in lines if line.strip().startswith("v1"))
    v2 = next(line for line in lines if line.strip().startswith("v2"))
    assert "base gemma-3-270m-twin" in v1 and "served as twin-v1" in v1 and "published" not in v1
    assert "served as twin-v2 [published, served]" in v2  # chosen by `up --model twin:v2`
    assert "sft: train loss 2.66 -> 2.04, eval loss 2.1, steps 8" in result.output
    assert "dpo: train loss 0.69 -> 0.52, steps 4, rewards/margins 0.31" in result.output
    assert "held-out: heldout_loss.base 2.7, heldout_loss.sft 2.1, heldout_loss.dpo 2.05" in result.output


def test_models_with_an_empty_registry(tmp_path, monkeypatch):
    settings = load_settings(env_file=tmp_path / "none.env", LOCAL_DATA_DIR=tmp_path)
    monkeypatch.setattr(settings_module, "get_settings", lambda: settings)
    result = CliRunner().invoke(local_llm.main, ["models"])
    assert result.exit_code == 0
    assert "No registered models in" in result.output


@pytest.mark.integration
def test_one_real_server_answers_for_the_base_model_and_a_published_twin(tmp_path):
    """A real `transformers serve` (tiny random model): started unpinned for the base folder, it then serves
    a registry version published beside it without a restart."""
    import httpx

    from llm_engineering.infrastructure.local.processes import free_port
    from llm_engineering.model.registry import publish_for_serving
    from tests.llm_fixtures import build_tiny_model

    models_dir = tmp_path / "models"
    base = build_tiny_model(models_dir / "tiny-base")
    trained = build_tiny_model(tmp_path / "work" / "merged")

    class Stage:
        stage, base_model, adapter_dir, merged_dir = "sft", "tiny-base", None, trained
        metrics, log_history, config = {"train_loss_last": 1.0}, [], {}

    registered = ModelRegistry(tmp_path / "registry").register("tiny-twin", [Stage()])
    served_id = publish_for_serving(registered, models_dir)
    server = LocalLLMServer(base, port=free_port(), run_dir=tmp_path / "run", pinned=False)
    try:
        server.start(timeout_s=240)
        pid = server.status().pid
        assert "ready" in server.ensure_model(served_id, timeout_s=120)
        with httpx.Client(trust_env=False, timeout=60) as client:
            for model in ("tiny-base", served_id):
                response = client.post(
                    f"{server.url}/chat/completions",
                    json={"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3},
                )
                assert response.status_code == 200, response.text
                assert json.loads(response.text)["choices"][0]["message"]["content"] is not None
        assert server.status().pid == pid  # the same process served both
    finally:
        server.stop()


@pytest.mark.integration
def test_a_pinned_server_refuses_other_models_with_a_clear_error(llm_server):
    """The session's tiny server is pinned (started with its folder name): asking it for another model says
    to restart it unpinned instead of failing on the first /rag request."""
    from llm_engineering.infrastructure.errors import LocalLLMError

    server = llm_server["server"]
    assert server.pinned
    with pytest.raises(LocalLLMError, match=r"pinned to another model.*local-llm-down"):
        server.ensure_model("tiny-twin-v1", timeout_s=60)
    assert "ready" in server.ensure_model(llm_server["model_id"], timeout_s=60)


def test_up_prepares_the_engine_and_prints_a_fallback_notice(data_dir, monkeypatch):
    server = FakeServer(healthy=False)
    server.notice = "llama-cpp-python cannot be imported; falling back to `transformers serve`"
    server.served_model_id = "gemma-3-270m-twin"
    monkeypatch.setattr(local_llm, "_server", lambda settings, model_id=None: server)
    result = CliRunner().invoke(local_llm.main, ["up"])
    assert result.exit_code == 0, result.output
    assert server.calls == ["prepare", "start"]
    assert "note: llama-cpp-python cannot be imported" in result.output
