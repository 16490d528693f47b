"""The registration use case: what the card records, which follow-ups run, and the metadata summaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.model.errors import ModelRegistryError
from llm_engineering.model.registration import (
    ReleaseOptions,
    RunInfo,
    heldout_metrics,
    register_trained_model,
    without_none,
)
from llm_engineering.model.registry import ModelRegistry
from tests.unit.model.test_registry import adapter_folder, model_folder

EVALUATION = {
    "improved": True,
    "summary": {"instruct_base_loss": 2.5, "instruct_sft_loss": 1.9},
    "results": {"instruct": {"base": {"samples": 12, "loss": 2.5}, "sft": {"samples": 12, "loss": 1.9}}},
}


def stage(tmp_path: Path, name: str, **extra) -> dict:
    work = tmp_path / "run" / name
    return {
        "stage": name,
        "base_model": "gemma-3-270m",
        "adapter_dir": str(adapter_folder(work / "adapter")),
        "merged_dir": str(model_folder(work / "merged")),
        "metrics": {"train_loss": 1.0},
        "config": {"learning_rate": 2e-4},
        **extra,
    }


class FakeExporter:
    def __init__(self, result: dict):
        self.result, self.asked = result, []

    def export_or_report(self, registered, quantizations):
        self.asked.append((registered.spec, quantizations))
        return self.result


class FakePublisher:
    def __init__(self):
        self.pushed = []

    def push(self, folder, repo_id):
        self.pushed.append((folder, repo_id))
        return f"https://hub.example/{repo_id}"


def never():
    raise AssertionError("not asked for with these options")


def test_sft_and_dpo_become_one_version_with_run_datasets_and_heldout_figures(tmp_path: Path):
    registry = ModelRegistry(tmp_path / "registry")
    exporter = FakeExporter({"Q8_0": "llm_twin-v1.Q8_0.gguf"})
    published = []
    sft = stage(tmp_path, "sft", profile="cpu", datasets={"train": {"artifact": "instruct", "version": "3"}})
    dpo = stage(tmp_path, "dpo", datasets={"train": {"artifact": "preference", "version": "2"}})
    registration = register_trained_model(
        "llm_twin",
        sft,
        EVALUATION,
        dpo,
        ReleaseOptions(export_gguf=["Q8_0"], serving={"max_context_chars": 1200}),
        RunInfo(zenml_run="training_run_1", zenml_model="llm_twin:7"),
        registry=registry,
        exporter=exporter,
        publish_for_serving=lambda registered: published.append(registered.spec) or "llm_twin-v1",
        publisher=never,
        hardware=lambda: {"cpu_cores": 2},
    )
    card = registration.card
    assert [entry["stage"] for entry in card["stages"]] == ["sft", "dpo"]
    assert card["config"] == {"learning_rate": 2e-4, "zenml_run": "training_run_1", "profile": "cpu"} | {
        "zenml_model": "llm_twin:7"
    }
    assert card["datasets"] == {
        "sft": {"artifact": "instruct", "version": "3"},
        "dpo": {"artifact": "preference", "version": "2"},
    }
    assert card["metrics"]["heldout_instruct_samples"] == 12
    assert card["hardware"] == {"cpu_cores": 2}
    assert card["serving"]["max_context_chars"] == 1200
    assert not Path(sft["merged_dir"]).exists()  # moved into the registry, not copied
    assert exporter.asked == [("llm_twin:v1", ["Q8_0"])]
    assert published == ["llm_twin:v1"]

    summary = registration.summary
    assert summary["spec"] == "llm_twin:v1"
    assert summary["served_model_id"] == "llm_twin-v1"
    assert summary["serve_command"] == "poetry run poe local-llm-up --model llm_twin:v1"
    assert summary["hub_url"] is None
    assert summary["gguf"] == {"Q8_0": "llm_twin-v1.Q8_0.gguf"}
    assert summary["heldout_improved"] is True
    assert summary["instruct_sft_loss"] == 1.9
    assert "hub_url" not in registration.artifact_metadata()
    assert registration.model_card()["registered"] == summary
    assert registration.model_version_metadata()["stages"] == {"sft": {"train_loss": 1.0}, "dpo": {"train_loss": 1.0}}


def test_no_serving_no_export_and_a_hub_push(tmp_path: Path):
    publisher = FakePublisher()
    registration = register_trained_model(
        "llm_twin",
        stage(tmp_path, "sft"),
        {},
        None,
        ReleaseOptions(serve=False, push_to_huggingface=True, hub_model_id="me/twin", export_gguf=[]),
        RunInfo(zenml_run="run"),
        registry=ModelRegistry(tmp_path / "registry"),
        exporter=FakeExporter({}),
        publish_for_serving=lambda registered: never(),
        publisher=lambda: publisher,
        hardware=dict,
    )
    assert publisher.pushed == [(Path(registration.summary["path"]), "me/twin")]
    assert registration.summary["hub_url"] == "https://hub.example/me/twin"
    assert registration.summary["served_model_id"] is None
    assert registration.gguf == {}
    assert "zenml_model" not in registration.card["config"]
    metadata = registration.model_version_metadata()
    assert "gguf" not in metadata and "served_model_id" not in metadata["registry"]


def test_a_failed_registration_runs_no_follow_up(tmp_path: Path):
    broken = stage(tmp_path, "sft")
    broken["merged_dir"] = str(tmp_path / "missing")
    with pytest.raises(ModelRegistryError):
        register_trained_model(
            "llm_twin",
            broken,
            {},
            None,
            ReleaseOptions(push_to_huggingface=True),
            RunInfo(zenml_run="run"),
            registry=ModelRegistry(tmp_path / "registry"),
            exporter=FakeExporter({}),
            publish_for_serving=lambda registered: never(),
            publisher=never,
            hardware=dict,
        )


def test_heldout_metrics_and_without_none():
    assert heldout_metrics(EVALUATION) == {
        "heldout_instruct_base_loss": 2.5,
        "heldout_instruct_sft_loss": 1.9,
        "heldout_instruct_samples": 12,
        "heldout_improved": True,
    }
    assert heldout_metrics({}) == {"heldout_improved": None}
    assert without_none({"a": None, "b": {"c": None, "d": 1}, "e": [None]}) == {"b": {"d": 1}, "e": [None]}
