"""Backend and precision choice, thread control, stage metrics, and light imports of the fine-tuning package."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from llm_engineering.model.errors import TrainingBackendError
from llm_engineering.model.finetuning import backends, training
from llm_engineering.model.finetuning.config import TrainingConfig
from tests.conftest import PROJECT_ROOT


@pytest.fixture
def no_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(backends, "cuda_available", lambda: False)


@pytest.fixture
def gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(backends, "cuda_available", lambda: True)


def test_backend_is_trl_without_a_gpu(no_gpu, monkeypatch):
    monkeypatch.setattr(backends, "unsloth_importable", lambda: True)

    assert backends.resolve_backend(TrainingConfig(backend="auto")) == "trl"
    assert backends.resolve_backend(TrainingConfig(backend="trl")) == "trl"
    with pytest.raises(TrainingBackendError, match="needs a CUDA GPU"):
        backends.resolve_backend(TrainingConfig(backend="unsloth"))


def test_backend_auto_takes_unsloth_only_when_it_imports(gpu, monkeypatch):
    monkeypatch.setattr(backends, "unsloth_importable", lambda: True)
    assert backends.resolve_backend(TrainingConfig(backend="auto")) == "unsloth"

    monkeypatch.setattr(backends, "unsloth_importable", lambda: False)
    assert backends.resolve_backend(TrainingConfig(backend="auto")) == "trl"
    with pytest.raises(TrainingBackendError, match="import unsloth"):
        backends.resolve_backend(TrainingConfig(backend="unsloth"))


def test_a_missing_unsloth_is_not_an_error():
    if importlib.util.find_spec("unsloth") is not None:
        pytest.skip("unsloth is installed here (a GPU image)")
    assert backends.unsloth_importable() is False  # never required on CPU machines


def test_precision_on_cpu(no_gpu, monkeypatch):
    monkeypatch.setattr(backends, "cpu_has_native_bf16", lambda: True)
    assert backends.resolve_precision(TrainingConfig(use_bf16="auto")) == backends.Precision(True, False, cpu=True)
    assert backends.resolve_precision(TrainingConfig(use_bf16="off")).name == "fp32"
    monkeypatch.setattr(backends, "cpu_has_native_bf16", lambda: False)
    assert backends.resolve_precision(TrainingConfig(use_bf16="auto")).name == "fp32"
    assert backends.resolve_precision(TrainingConfig(use_bf16="on")).name == "bf16"


def test_precision_on_gpu_follows_the_book(gpu, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert backends.resolve_precision(TrainingConfig()) == backends.Precision(bf16=False, fp16=True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert backends.resolve_precision(TrainingConfig()) == backends.Precision(bf16=True, fp16=False)


def test_torch_threads_are_restored():
    import torch

    before = torch.get_num_threads()
    with backends.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with backends.torch_threads(None):
        assert torch.get_num_threads() == before


def test_stage_metrics_from_the_log_history():
    history = [
        {"loss": 2.5, "num_tokens": 100.0, "rewards/margins": 0.0, "step": 1},
        {"loss": 1.5, "num_tokens": 250.0, "rewards/margins": 0.4, "rewards/accuracies": 0.75, "step": 2},
        {"eval_loss": 1.7, "step": 2},
    ]
    meter = training._Meter()
    meter.seconds = 5.0

    selected = training._Selected(samples=8, tokens=900, too_long=3)
    metrics = training._metrics("dpo", {"train_loss": 2.0}, {"eval_loss": 1.7}, history, 2, selected, meter, 2)

    assert metrics["train_loss_first"] == 2.5 and metrics["train_loss_last"] == 1.5
    assert (metrics["tokens"], metrics["tokens_per_s"], metrics["steps"], metrics["samples"]) == (250, 50.0, 2, 8)
    # A time budget may stop the loop early: 2 steps of 2 samples reached 4 of the 8 on offer.
    assert (metrics["samples_trained"], metrics["dataset_tokens"], metrics["skipped_too_long"]) == (4, 900, 3)
    assert metrics["eval_loss"] == 1.7 and metrics["rewards/margins"] == 0.4 and metrics["rewards/chosen"] is None
    assert "rewards/margins" not in training._metrics("sft", {}, {}, history, 2, selected, meter)


def test_importing_the_fine_tuning_modules_loads_no_heavy_library():
    probe = (
        "import json, sys\n"
        "import llm_engineering.model.finetuning.config, llm_engineering.model.finetuning.data\n"
        "import llm_engineering.model.finetuning.backends, llm_engineering.model.finetuning.training\n"
        "import llm_engineering.model.evaluation.heldout\n"
        "print(json.dumps(sorted(m for m in ('torch', 'transformers', 'trl', 'peft', 'datasets', 'unsloth')"
        " if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
