"""A training run's stages as the next registered version of a model, as the `register_model` step runs it:
registered with its datasets, held-out figures and hardware, exported as GGUF (a failed export is reported,
not raised), published for the local server, optionally pushed to the Hugging Face Hub, and summarised for
the run's metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from loguru import logger

from llm_engineering.model.finetuning.runs import hardware as machine_hardware
from llm_engineering.model.finetuning.runs import stage_result_from_dict
from llm_engineering.model.registry import ModelRegistry, RegisteredModel


class GGUFExport(Protocol):
    def export_or_report(self, registered: RegisteredModel, quantizations: Iterable[str] | None) -> dict[str, Any]:
        """The export's summary, `{"error": ...}` for a failed one, `{}` when none was asked for."""
        ...


class ModelPublisher(Protocol):
    def push(self, folder: Path, repo_id: str) -> str:
        """Upload `folder` as `repo_id` and return its Hub URL."""
        ...


@dataclass(frozen=True)
class RunInfo:
    """The pipeline run the stages come from: its name and the ZenML Model version it is tagged onto."""

    zenml_run: str
    zenml_model: str | None = None  # `<model>:<version>`


@dataclass(frozen=True)
class ReleaseOptions:
    """What happens after registration: `export_gguf` quantizations (None: Q8_0 and Q4_K_M; empty: none),
    publishing for the local server, pushing to the Hub as `hub_model_id`, and the card's `serving` block."""

    serve: bool = True
    push_to_huggingface: bool = False
    hub_model_id: str | None = None
    export_gguf: list[str] | None = None
    serving: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Registration:
    """The registered version's card, the summary of what was done with it, and the per-stage metrics."""

    card: dict[str, Any]
    summary: dict[str, Any]
    gguf: dict[str, Any]
    stage_metrics: dict[str, Any] = field(default_factory=dict)

    def model_card(self) -> dict[str, Any]:
        """The step's artifact: the card with the summary under `registered`."""
        return self.card | {"registered": self.summary}

    def artifact_metadata(self) -> dict[str, Any]:
        return without_none(self.summary)

    def model_version_metadata(self) -> dict[str, Any]:
        """What the ZenML Model version gets: the summary, each stage's metrics, the GGUF export."""
        return without_none({"registry": self.summary, "stages": self.stage_metrics, "gguf": self.gguf or None})


def register_trained_model(
    model_name: str,
    sft_result: dict,
    evaluation: dict,
    dpo_result: dict | None,
    options: ReleaseOptions,
    run: RunInfo,
    *,
    registry: ModelRegistry,
    exporter: GGUFExport,
    publish_for_serving: Callable[[RegisteredModel], str],
    publisher: Callable[[], ModelPublisher],
    hardware: Callable[[], dict[str, Any]] = machine_hardware,
) -> Registration:
    """Register SFT (and DPO) as `<model_name>:v<N>`, the last stage being the served model; the run folder's
    copies are moved, not copied. Then export, publish (`publish_for_serving`, when `options.serve`) and push
    (`publisher()`, only with `options.push_to_huggingface`). Raises ModelRegistryError when registering fails.
    """
    results = [sft_result] + ([dpo_result] if dpo_result is not None else [])
    stages = [stage_result_from_dict(result) for result in results]
    run_info: dict[str, Any] = {"zenml_run": run.zenml_run, "profile": sft_result.get("profile")}
    if run.zenml_model is not None:
        run_info["zenml_model"] = run.zenml_model
    registered = registry.register(
        model_name,
        stages,
        datasets=stage_datasets(results),
        config=stages[-1].config | run_info,
        metrics=heldout_metrics(evaluation),
        hardware=hardware(),
        move=True,  # the run folder's copies are not needed once registered: no second gigabyte on disk
        serving=options.serving,
    )
    gguf = exporter.export_or_report(registered, options.export_gguf)
    card = registered.card()
    served = publish_for_serving(registered) if options.serve else None
    hub_url = publisher().push(registered.path, options.hub_model_id or "") if options.push_to_huggingface else None
    summary = {
        "spec": registered.spec,
        "path": str(registered.path),
        "served_model_id": served,
        "serve_command": f"poetry run poe local-llm-up --model {registered.spec}",
        "hub_url": hub_url,
        "gguf": gguf or None,
        "heldout_improved": evaluation.get("improved"),
        **evaluation.get("summary", {}),
    }
    logger.info("Registered {} ({}); serve it with: {}", registered.spec, registered.path, summary["serve_command"])
    return Registration(
        card=card,
        summary=summary,
        gguf=gguf,
        stage_metrics={stage.stage: stage.metrics for stage in stages},
    )


def stage_datasets(results: list[dict]) -> dict[str, dict[str, Any]]:
    """{stage: {artifact, version, id}} of the dataset artifact each stage trained on."""
    found: dict[str, dict[str, Any]] = {}
    for result in results:
        for reference in (result.get("datasets") or {}).values():
            found[result["stage"]] = dict(reference)
    return found


def heldout_metrics(evaluation: dict) -> dict[str, Any]:
    """Flat figures for the model card: `heldout_<dataset>_<model>_loss`, samples per dataset, improved."""
    metrics: dict[str, Any] = {f"heldout_{key}": value for key, value in evaluation.get("summary", {}).items()}
    for dataset, by_model in evaluation.get("results", {}).items():
        first = next(iter(by_model.values()), {})
        metrics[f"heldout_{dataset}_samples"] = first.get("samples")
    metrics["heldout_improved"] = evaluation.get("improved")
    return metrics


def without_none(value: Any) -> Any:
    """ZenML metadata refuses None: drop such entries, nested ones included."""
    if isinstance(value, dict):
        return {key: without_none(item) for key, item in value.items() if item is not None}
    return value
