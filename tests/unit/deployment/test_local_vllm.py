"""`tools.local_vllm` (poe local-vllm-up): which model a spec names, the `vllm serve` command built from the
settings, and the errors when vLLM or a CUDA GPU is missing (both faked here)."""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

import llm_engineering.settings as settings_module
from llm_engineering.model.registry import ModelRegistry
from llm_engineering.settings import load_settings
from tests.unit.model.test_registry import model_folder, register
from tools import local_vllm


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """Settings with LOCAL_DATA_DIR in a temp folder, LLM_BASE_URL on port 18123, and one `llm_twin` version."""
    settings = load_settings(
        env_file=tmp_path / "none.env",
        LOCAL_DATA_DIR=tmp_path / "data",
        LLM_BASE_URL="http://127.0.0.1:18123/v1",
        LLM_MODEL_ID="twin-served",
        MAX_TOTAL_TOKENS=3072,
    )
    monkeypatch.setattr(settings_module, "get_settings", lambda: settings)
    register(ModelRegistry(tmp_path / "data" / "registry"), tmp_path, name="llm_twin")
    return tmp_path / "data"


@pytest.fixture
def gpu_machine(monkeypatch) -> list[list[str]]:
    """A machine with `vllm` on PATH and a CUDA GPU (both faked); records the command `_exec` would run."""
    monkeypatch.setattr(local_vllm.shutil, "which", lambda name: f"/opt/vllm/bin/{name}")
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(available=True))
    executed: list[list[str]] = []
    monkeypatch.setattr(local_vllm, "_exec", executed.append)
    return executed


def _fake_torch(available: bool) -> types.ModuleType:
    torch = types.ModuleType("torch")
    torch.cuda = types.SimpleNamespace(is_available=lambda: available, get_device_name=lambda index: "Fake H100")
    return torch


def _invoke(*args: str):
    return CliRunner().invoke(local_vllm.main, list(args))


def test_vllm_command_line():
    assert local_vllm.vllm_command(
        "vllm", "/models/twin", "llm-twin", "127.0.0.1", 8001, 4096, extra_args=("--enforce-eager",)
    ) == [
        "vllm",
        "serve",
        "/models/twin",
        "--served-model-name",
        "llm-twin",
        "--host",
        "127.0.0.1",
        "--port",
        "8001",
        "--dtype",
        "auto",
        "--max-model-len",
        "4096",
        "--enforce-eager",
    ]


@pytest.mark.parametrize(
    ("url", "port"),
    [("http://127.0.0.1:8001/v1", 8001), ("http://vllm/v1", 80), ("https://llm.example.com/v1", 443)],
)
def test_port_of_the_base_url(url, port):
    assert local_vllm.port_of(url) == port


def test_dry_run_serves_the_latest_registered_version_where_the_settings_point(data_dir):
    result = _invoke("--dry-run")

    assert result.exit_code == 0, result.output
    merged = (data_dir / "registry" / "llm_twin" / "v1" / "dpo" / "merged").resolve()
    assert result.output.splitlines()[-1].split() == [
        "vllm",
        "serve",
        str(merged),
        "--served-model-name",
        "twin-served",
        "--host",
        "127.0.0.1",
        "--port",
        "18123",
        "--dtype",
        "auto",
        "--max-model-len",
        "3072",
    ]
    assert "Model: llm_twin:v1" in result.output
    assert f"LLM_TWIN_MODEL_DIR={merged}" in result.output


def test_before_any_training_the_default_spec_says_what_to_do(data_dir):
    shutil.rmtree(data_dir / "registry")
    result = _invoke("--dry-run")
    assert result.exit_code == 1
    assert "No model 'llm_twin'" in result.output and "poe run-training-pipeline" in result.output


def test_a_stage_of_a_version_a_folder_and_extra_vllm_arguments(data_dir, tmp_path):
    result = _invoke("--dry-run", "--model", "llm_twin:latest@sft", "--port", "9000", "--", "--enforce-eager")
    assert result.exit_code == 0, result.output
    command = result.output.splitlines()[-1].split()
    assert command[2] == str((data_dir / "registry" / "llm_twin" / "v1" / "sft" / "merged").resolve())
    assert command[command.index("--port") + 1] == "9000"
    assert command[-1] == "--enforce-eager"

    folder = model_folder(tmp_path / "my-model")
    result = _invoke("--dry-run", "--model", str(folder), "--served-name", "mine")
    assert result.exit_code == 0, result.output
    command = result.output.splitlines()[-1].split()
    assert command[2] == str(folder.resolve())
    assert command[command.index("--served-model-name") + 1] == "mine"
    assert "Clients must set LLM_MODEL_ID=mine (now twin-served)" in result.output


def test_hub_ids(data_dir):
    for spec in ("hf:mlabonne/TwinLlama-3.1-8B-DPO", "mlabonne/TwinLlama-3.1-8B-DPO"):
        result = _invoke("--dry-run", "--model", spec)
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[-1].split()[2] == "mlabonne/TwinLlama-3.1-8B-DPO"
        assert "Hugging Face Hub model" in result.output
        assert "LLM_TWIN_MODEL_DIR" not in result.output
    assert "expected hf:<owner>/<name>" in _invoke("--dry-run", "--model", "hf:nope").output


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("endpoint", "names a running server"),
        ("llm_twin:v7", "has no version v7"),
        ("llm_twin:latest@pretrain", "has no stage 'pretrain'"),
        ("./missing-folder", "No model folder at"),
    ],
)
def test_bad_specs_say_why(data_dir, spec, message):
    result = _invoke("--dry-run", "--model", spec)
    assert result.exit_code == 1
    assert message in result.output


def test_a_folder_without_chat_template_is_refused(data_dir, tmp_path):
    folder = model_folder(tmp_path / "raw", template="none")
    result = _invoke("--dry-run", "--model", str(folder))
    assert result.exit_code == 1
    assert "no chat template" in result.output


def test_without_vllm_installed_it_says_how_to_install_it(data_dir, monkeypatch):
    monkeypatch.setattr(local_vllm.shutil, "which", lambda name: None)
    result = _invoke("--model", "llm_twin:latest")
    assert result.exit_code == 1
    assert "vLLM is not installed here (no 'vllm' command found)" in result.output
    assert "pip install vllm" in result.output


def test_without_a_cuda_gpu_it_says_so(data_dir, gpu_machine, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(available=False))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    result = _invoke("--model", "llm_twin:latest")
    assert result.exit_code == 1
    assert "No CUDA GPU is visible (CUDA_VISIBLE_DEVICES='')" in result.output
    assert "poe local-llm-up" in result.output
    assert gpu_machine == []


def test_on_a_gpu_machine_it_replaces_itself_with_vllm_serve(data_dir, gpu_machine):
    result = _invoke("--model", "llm_twin:latest", "--max-model-len", "2048", "--vllm-bin", "vllm-0.33")
    assert result.exit_code == 0, result.output
    (command,) = gpu_machine
    assert command[:2] == ["/opt/vllm/bin/vllm-0.33", "serve"]
    assert command[command.index("--max-model-len") + 1] == "2048"
    assert command[command.index("--port") + 1] == "18123"
