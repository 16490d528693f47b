"""Steps: SFT of the base model on the instruct dataset, then DPO of the SFT model on the preference dataset.

Each stage trains a LoRA adapter, merges it and returns its `StageResult` as a dict (paths, metrics, log
history, config); the weights stay in `LOCAL_DATA_DIR/training/<run>/<stage>` until `register_model`
moves them into the registry.
"""

from __future__ import annotations

from typing import Annotated, Any

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.domain.datasets import TrainTestSplit
from steps.training._context import input_artifacts, link_inputs_to_model, run_folder

# The figures of a stage that go into the step's metadata (the dashboard's metadata tab).
METADATA_KEYS = (
    "samples",
    "samples_trained",
    "dataset_tokens",
    "skipped_too_long",
    "steps",
    "tokens",
    "tokens_per_s",
    "train_loss_first",
    "train_loss_last",
    "eval_loss",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
    "rewards/accuracies",
    "seconds",
    "total_seconds",
    "peak_rss_mb",
    "backend",
    "precision",
    "experiment",
)


@step
def train_sft(
    dataset: TrainTestSplit, profile: str, profiles: dict[str, Any], track_experiments: bool = True
) -> Annotated[dict, "sft_result"]:
    """Supervised fine-tuning of the profile's base model ("local": the converted Gemma 3 270M)."""
    from llm_engineering import bootstrap
    from llm_engineering.model.finetuning.config import LOCAL_BASE_MODEL, training_config_from_profiles

    settings = bootstrap.container().settings
    config = training_config_from_profiles(profiles, profile, "the training pipeline's `profiles`")
    local_dir = bootstrap.training_base_model_dir(settings) if config.base_model == LOCAL_BASE_MODEL else None
    return _train("sft", config, config.resolve_base_model(local_dir), dataset, profile, track_experiments)


@step
def train_dpo(
    dataset: TrainTestSplit,
    sft_result: dict,
    profile: str,
    profiles: dict[str, Any],
    track_experiments: bool = True,
) -> Annotated[dict, "dpo_result"]:
    """DPO of the merged SFT model (with its adapter disabled as the reference)."""
    from llm_engineering.model.finetuning.config import training_config_from_profiles

    config = training_config_from_profiles(profiles, profile, "the training pipeline's `profiles`")
    return _train("dpo", config, sft_result["merged_dir"], dataset, profile, track_experiments)


def _train(stage: str, config: Any, model_path: str, dataset: TrainTestSplit, profile: str, track: bool) -> dict:
    from llm_engineering import bootstrap
    from llm_engineering.model.finetuning.runs import tracked_stage

    container = bootstrap.container()
    output_dir = run_folder(container.settings.LOCAL_DATA_DIR) / stage
    tracker = container.experiment_tracker(f"{output_dir.parent.name}-{stage}") if track else None
    result = tracked_stage(stage, config, model_path, dataset, output_dir, tracker)  # type: ignore[arg-type]
    link_inputs_to_model("dataset")
    summary = result.to_dict() | {"profile": profile, "datasets": input_artifacts("dataset")}
    figures = {key: result.metrics[key] for key in METADATA_KEYS if result.metrics.get(key) is not None}
    logger.info("{} of {} done: {}", stage.upper(), model_path, figures)
    log_metadata(metadata={"profile": profile, "model_path": model_path, **figures}, infer_artifact=True)
    return summary
