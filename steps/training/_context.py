"""What the training steps share: where a run's models go, which dataset artifacts fed a step, and the
ZenML Model version the run registers into (when the pipeline has one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loguru import logger
from zenml import get_step_context


def run_folder(root: Path) -> Path:
    """`root/training/<pipeline run name>`: one folder per run, so re-runs never overwrite a model."""
    return root / "training" / get_step_context().pipeline_run.name


def input_artifacts(*names: str) -> dict[str, dict[str, Any]]:
    """{input name: {artifact, version, id}} of this step's artifact inputs among `names`."""
    inputs = get_step_context().inputs
    found: dict[str, dict[str, Any]] = {}
    for name in names:
        for artifact in inputs.get(name, []):
            found[name] = {"artifact": artifact.name, "version": str(artifact.version), "id": str(artifact.id)}
    return found


def has_model_version() -> bool:
    """Whether this run registers into a ZenML Model version (the pipeline config has a `model:`)."""
    return get_step_context().pipeline_run.model_version is not None


def link_inputs_to_model(*names: str) -> None:
    """Link this step's input artifacts `names` (the datasets) to the run's ZenML Model version, so the
    dashboard shows which data a model version was trained on. No-op when the run has no model."""
    from zenml import link_artifact_to_model

    if not has_model_version():
        return
    for name in names:
        for artifact in get_step_context().inputs.get(name, []):
            try:
                link_artifact_to_model(artifact)
            except RuntimeError as error:  # no model context: lineage stays in the run graph only
                logger.info("Not linking {} to a model: {}", artifact.name, error)
