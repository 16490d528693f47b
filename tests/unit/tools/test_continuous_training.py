"""The continuous-training tool: the chain wired by `build_chain` (fake pipeline runs, the real registry and
served model under a tmp LOCAL_DATA_DIR), the config errors and the CLI's output, exit status and alert.
The chain's own rules are tested on fakes in tests/unit/application/operations/test_continuous_training_chain.py."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from llm_engineering.application.operations.continuous_training import ContinuousTrainingConfig
from llm_engineering.application.operations.continuous_training_chain import ContinuousTrainingChain
from tools import continuous_training as ct

CONFIG = yaml.safe_load((ct.DEFAULT_CONFIG).read_text())


@pytest.fixture
def local_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from llm_engineering import bootstrap
    from llm_engineering.infrastructure.local.processes import free_port
    from llm_engineering.settings import get_settings

    monkeypatch.setenv("LOCAL_DATA_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("ALERTS_FILE", str(tmp_path / "alerts.jsonl"))
    monkeypatch.setenv("LOCAL_LLM_PORT", str(free_port()))  # no running local LLM server is asked to load a fake
    get_settings.cache_clear()
    bootstrap.reset()
    yield tmp_path / "local"
    get_settings.cache_clear()
    bootstrap.reset()


def _register_version(root: Path, version: int) -> None:
    """A registry version as the training pipeline leaves it (card + a servable merged folder)."""
    merged = root / "registry" / "llm_twin" / f"v{version}" / "dpo" / "merged"
    merged.mkdir(parents=True)
    (merged / "config.json").write_text('{"model_type": "gemma3_text"}')  # a twin llama.cpp can serve
    (merged / "chat_template.jinja").write_text("{{ messages }}")
    card = {"merged_dir": "dpo/merged", "config": {}}
    (merged.parent.parent / "model_card.json").write_text(json.dumps(card))


class FakePipelines:
    """Records each stage's overrides; training registers a version; evaluation may be rejected."""

    def __init__(self, root: Path, reject: bool = False, fail_stage: str | None = None):
        self.root = root
        self.reject = reject
        self.fail_stage = fail_stage
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.run_names: list[str] = []
        self.folders: set[Path] = set()

    def __call__(self, stage: str, overrides: dict[str, Any], folder: Path, run_name: str) -> str:
        self.calls.append((stage, overrides))
        self.folders.add(folder)
        self.run_names.append(run_name)
        if stage == self.fail_stage:
            raise RuntimeError(f"{stage} broke")
        if stage == "training":
            versions = sorted((self.root / "registry" / "llm_twin").glob("v*"))
            _register_version(self.root, len(versions) + 1)
        if stage == "evaluation" and self.reject:
            raise RuntimeError("Failed to run step evaluation_gate")
        return run_name

    def verdict(self, run_name: str) -> str | None:
        assert run_name == self.run_names[-1]  # the gate of this evaluation run, not of another one
        return "heldout_loss 3.40 > allowed 3.31" if self.reject else None


def _chain(root: Path, pipelines: FakePipelines, deploy: bool = True) -> ContinuousTrainingChain:
    config = ContinuousTrainingConfig.model_validate(CONFIG)
    return ct.build_chain(
        config,
        "small",
        root,
        deploy=deploy,
        data="skip",
        pipeline_runner=pipelines,
        rejection_verdict=pipelines.verdict,
        llm_context=contextlib.nullcontext,
    )


def test_first_run_gates_against_base_and_promotes_the_candidate(local_data: Path):
    pipelines = FakePipelines(local_data)
    report = _chain(local_data, pipelines).run()

    assert [stage for stage, _ in pipelines.calls] == [
        "features",
        "instruct_datasets",
        "preference_datasets",
        "training",
        "evaluation",
    ]
    training = dict(pipelines.calls)["training"]
    assert training["serve"] is False and training["profile"] == "cpu_smoke" and training["run_dpo"] is False
    evaluation = dict(pipelines.calls)["evaluation"]
    assert evaluation["models"] == [
        {"name": "current", "source": "base"},
        {"name": "candidate", "source": "llm_twin:v1"},
    ]
    assert evaluation["gate"]["candidate"] == "candidate" and evaluation["gate"]["current"] == "current"
    assert {rule["metric"] for rule in evaluation["gate"]["rules"]} == {"heldout_loss", "reference_similarity"}
    assert evaluation["max_samples"] == 4
    assert pipelines.folders == {local_data}  # overridden configs go to the tool's folder
    assert all(
        name.startswith(f"ct_{stage}_") for (stage, _), name in zip(pipelines.calls, pipelines.run_names, strict=True)
    )

    assert report.outcome == "deployed"
    assert report.deployed == "llm_twin:v1"
    from llm_engineering.model.registry import ModelRegistry

    registry = ModelRegistry(local_data / "registry")
    assert registry.promoted("llm_twin").spec == "llm_twin:v1"
    assert registry.lookup("llm_twin:production").version == 1
    assert (local_data / "models" / "llm_twin-v1").exists()
    # The promoted twin is now the served model: recorded, so local-llm-up and the API follow it.
    served = json.loads((local_data / "models" / "served.json").read_text())
    assert served["spec"] == "llm_twin:v1" and served["model_id"] == "llm_twin-v1"
    assert served["by"] == "continuous training"


def test_second_run_compares_with_production_and_a_rejection_keeps_it(local_data: Path):
    _chain(local_data, FakePipelines(local_data)).run()
    rejecting = FakePipelines(local_data, reject=True)
    report = _chain(local_data, rejecting).run()

    evaluation = dict(rejecting.calls)["evaluation"]
    assert evaluation["models"][0] == {"name": "current", "source": "llm_twin:v1"}
    assert evaluation["models"][1] == {"name": "candidate", "source": "llm_twin:v2"}
    assert report.outcome == "rejected"
    assert "heldout_loss 3.40" in (report.gate_message or "")
    statuses = {record.name: record.status for record in report.stages}
    assert statuses["evaluation"] == "rejected" and statuses["deploy"] == "skipped"
    from llm_engineering.model.registry import ModelRegistry

    assert ModelRegistry(local_data / "registry").promoted("llm_twin").version == 1
    assert json.loads((local_data / "models" / "served.json").read_text())["spec"] == "llm_twin:v1"  # unchanged


@pytest.mark.parametrize(
    ("fail_stage", "deploy", "outcome"), [("evaluation", True, "failed"), (None, False, "trained")]
)
def test_an_evaluation_crash_or_no_deploy_promotes_nothing_in_the_registry(
    local_data: Path, fail_stage: str | None, deploy: bool, outcome: str
):
    report = _chain(local_data, FakePipelines(local_data, fail_stage=fail_stage), deploy=deploy).run()
    assert report.outcome == outcome
    from llm_engineering.model.registry import ModelRegistry

    assert ModelRegistry(local_data / "registry").promoted("llm_twin") is None
    assert not (local_data / "models" / "served.json").exists()


def test_config_errors_are_specific(tmp_path: Path):
    bad = tmp_path / "ct.yaml"
    bad.write_text(yaml.safe_dump({**CONFIG, "gate": [], "extra": 1}))
    result = CliRunner().invoke(ct.main, ["--config", str(bad)])
    assert result.exit_code == 2
    assert "gate" in result.output and "extra" in result.output

    result = CliRunner().invoke(ct.main, ["--budget", "huge"])
    assert result.exit_code == 2
    assert "Unknown budget 'huge'" in result.output


def test_cli_exit_status_and_alert(local_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    rejecting = FakePipelines(local_data, reject=True)
    real = ct.build_chain

    def chain(config, budget, folder, deploy=True, data=None):
        return real(
            config,
            budget,
            folder,
            deploy=deploy,
            data="skip",
            pipeline_runner=rejecting,
            rejection_verdict=rejecting.verdict,
            llm_context=contextlib.nullcontext,
        )

    monkeypatch.setattr(ct, "build_chain", chain)
    output = tmp_path / "reports"
    result = CliRunner().invoke(ct.main, ["--output", str(output), "--fail-on-reject"])
    assert result.exit_code == ct.EXIT_REJECTED, result.output
    assert "Continuous training: rejected" in result.output
    assert "[ct] data: done in 0 s warehouse used as it is" in result.output  # the chain's progress, echoed
    assert "[ct] training: done in" in result.output and "candidate llm_twin:v1" in result.output
    reports = list(output.glob("*/report.json"))
    assert len(reports) == 1 and json.loads(reports[0].read_text())["outcome"] == "rejected"
    alert = json.loads((tmp_path / "alerts.jsonl").read_text().splitlines()[-1])
    assert alert["pipeline"] == "continuous_training" and alert["status"] == "succeeded"
    assert alert["details"]["outcome"] == "rejected"
