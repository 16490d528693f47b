"""`poe serve-model` / `poe promote-model` / `poe served-model` as a user runs them (child processes on a
registry built here): the choice recorded, the checks' plain errors, production; and, with a real llama.cpp
server running, the switch loads the twin's GGUF into it without a restart."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from llm_engineering.infrastructure.local.processes import free_port
from llm_engineering.model.gguf_export import weights_fingerprint
from llm_engineering.model.registry import ModelRegistry
from tests.cli import run_module
from tests.conftest import PROJECT_ROOT
from tests.unit.model.test_registry import register

pytestmark = pytest.mark.integration


def _environment(data_dir: Path, port: int, engine: str = "transformers") -> dict[str, str]:
    return {
        **os.environ,
        "ENV_FILE": str(PROJECT_ROOT / "tests" / "no.env"),
        "LOCAL_DATA_DIR": str(data_dir),
        "LOCAL_LLM_PORT": str(port),
        "LOCAL_LLM_ENGINE": engine,
        "LLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
    }


def _run(module: str, *args: str, env: dict[str, str], returncode: int) -> subprocess.CompletedProcess:
    """`python -m module args` in the project, which must exit with `returncode`."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == returncode, result.stdout + result.stderr
    return result


def _failing(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return _run(module, *args, env=env, returncode=1)


@pytest.fixture
def registry_dir(tmp_path: Path) -> Path:
    """LOCAL_DATA_DIR with `llm_twin` v1 and v2 registered."""
    data_dir = tmp_path / "data"
    registry = ModelRegistry(data_dir / "registry")
    register(registry, tmp_path, name="llm_twin")
    register(registry, tmp_path, name="llm_twin")
    return data_dir


def test_serve_promote_and_show_from_the_command_line(registry_dir: Path):
    env = _environment(registry_dir, free_port())  # nothing listens there: no server to switch

    assert "The API asks: gemma-3-270m-twin (base, the packaged base model" in run_module(
        "tools.served_model", "show", env=env
    )

    output = run_module("tools.served_model", "serve", "--model", "llm_twin:latest", "--reason", "newest", env=env)
    assert "Served model: llm_twin:v2, as llm_twin-v2." in output
    assert "No local LLM server runs: `poetry run poe local-llm-up` serves it." in output
    assert "The API asks llm_twin-v2 from its next request on (no restart)." in output
    record = json.loads((registry_dir / "models" / "served.json").read_text())
    assert record["spec"] == "llm_twin:v2" and record["requested"] == "llm_twin:latest" and record["by"] == "cli"
    assert (registry_dir / "models" / "llm_twin-v2").is_symlink()

    output = run_module("tools.served_model", "promote", "--model", "llm_twin:v1", env=env)
    assert "Production: llm_twin:v1." in output
    assert "The served model stays llm_twin-v2 (llm_twin:v2, chosen by cli" in output
    assert ModelRegistry(registry_dir / "registry").promoted("llm_twin").version == 1

    shown = run_module("tools.served_model", "show", env=env)
    assert "The API asks: llm_twin-v2 (llm_twin:v2, chosen by cli at" in shown and ": newest)" in shown

    # The choice now follows production: serve it by name.
    output = run_module("tools.served_model", "serve", "--model", "llm_twin:production", env=env)
    assert "Served model: llm_twin:v1, as llm_twin-v1." in output


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (("serve", "--model", "llm_twin:v9"), "Error: Model 'llm_twin' has no version v9; it has v1, v2."),
        (("serve", "--model", "twin:v1"), "Error: No model 'twin' in the registry"),
        (("serve", "--model", "llm_twin:next"), "Error: Bad version 'next'"),
        (("promote", "--model", "base"), "Error: The base model cannot be promoted"),
        (("serve",), "Missing option '--model'"),
    ],
)
def test_what_cannot_be_served_fails_with_a_specific_message(registry_dir: Path, command, message):
    env = _environment(registry_dir, free_port())
    if command == ("serve",):
        result = _run("tools.served_model", *command, env=env, returncode=2)
        assert message in result.stderr
        return
    result = _failing("tools.served_model", *command, env=env)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (registry_dir / "models" / "served.json").exists()


def test_llamacpp_refuses_a_twin_it_cannot_serve(registry_dir: Path):
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed: the engine falls back to transformers serve")
    env = _environment(registry_dir, free_port(), engine="llamacpp")
    result = _failing("tools.served_model", "serve", "--model", "llm_twin:v1", env=env)
    assert "llm_twin:v1 cannot be served by the llama.cpp engine (LOCAL_LLM_ENGINE=llamacpp)" in result.stderr
    assert "not a fine-tune of the packaged Gemma 3 270M" in result.stderr


def test_the_poe_task_runs_the_same_command(registry_dir: Path):
    env = _environment(registry_dir, free_port())
    result = _run("poethepoet", "serve-model", "--model", "llm_twin:v1", env=env, returncode=0)
    assert "Served model: llm_twin:v1, as llm_twin-v1." in result.stdout


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed")
def test_the_served_model_on_a_real_llamacpp_server(tmp_path: Path):
    """A twin whose registered GGUF export is (a link to) the packaged Gemma 3 file: chosen while no server
    runs, then served by a plain `local-llm-up`; switching back to the base model makes the running server
    load it by its id, no restart."""
    from llm_engineering.model.gguf_conversion import packaged_gguf

    data_dir = tmp_path / "data"
    packaged = packaged_gguf(data_dir / "models")
    registry = ModelRegistry(data_dir / "registry")
    twin = register(registry, tmp_path, name="llm_twin")
    export = twin.path / "gguf" / "llm_twin-v1.Q8_0.gguf"
    export.parent.mkdir()
    export.symlink_to(packaged)
    registry.record_exports(
        twin,
        {
            "weights": weights_fingerprint(twin.merged_dir),
            "files": {"gguf/llm_twin-v1.Q8_0.gguf": {"quantization": "Q8_0", "bytes": packaged.stat().st_size}},
        },
    )
    port = free_port()
    env = {**_environment(data_dir, port, engine="llamacpp"), "LOCAL_LLM_THREADS": "1", "LOCAL_LLM_PARALLEL": "1"}

    output = run_module("tools.served_model", "serve", "--model", "llm_twin:v1", env=env)
    assert "No local LLM server runs" in output
    try:
        up = run_module("tools.local_llm", "up", env=env, timeout_s=300)
        assert "Served model: llm_twin-v1 (llm_twin:v1, chosen by cli" in up
        assert "as model 'llm_twin-v1'" in up

        output = run_module("tools.served_model", "serve", "--model", "base", env=env, timeout_s=300)
        assert "Served model: base, as gemma-3-270m-twin." in output
        assert "model 'gemma-3-270m-twin' ready" in output
        with httpx.Client(trust_env=False, timeout=30) as client:
            listed = {model["id"] for model in client.get(f"http://127.0.0.1:{port}/v1/models").json()["data"]}
        assert listed == {"llm_twin-v1", "gemma-3-270m-twin"}
        status = run_module("tools.served_model", "show", env=env)
        assert "The API asks: gemma-3-270m-twin (base, chosen by cli" in status
    finally:
        run_module("tools.local_llm", "down", env=env)
