"""A training stage as a tracked run: the stage's parameters, every trainer log and the final figures go to
an experiment tracker, and the result carries the experiment's key. Also what a run ran on (`hardware`).

The tracker is injected (`bootstrap.build_experiment_tracker`), so this module stays free of settings.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

from llm_engineering.domain.datasets import TrainTestSplit
from llm_engineering.model.finetuning.config import TrainingConfig
from llm_engineering.model.finetuning.training import SUMMARY_FILE, Stage, StageResult, run_dpo, run_sft
from llm_engineering.model.tracking import ExperimentTracker, NoTracking, TrackingCallback


def stage_result_from_dict(data: dict[str, Any]) -> StageResult:
    """A `StageResult` back from `StageResult.to_dict()` (what a pipeline step passes on)."""
    return StageResult(
        stage=data["stage"],
        base_model=data["base_model"],
        adapter_dir=Path(data["adapter_dir"]),
        merged_dir=Path(data["merged_dir"]),
        metrics=dict(data.get("metrics") or {}),
        log_history=list(data.get("log_history") or []),
        config=dict(data.get("config") or {}),
    )


def tracked_stage(
    stage: Stage,
    config: TrainingConfig,
    model_path: str | Path,
    dataset: TrainTestSplit,
    output_dir: Path,
    tracker: ExperimentTracker | None = None,
) -> StageResult:
    """Run `stage` (SFT of a base model or DPO of an SFT model) with every trainer log forwarded to
    `tracker`; the tracker is ended whatever happens, and its key lands in `metrics["experiment"]`."""
    tracker = tracker or NoTracking()
    stage_config = config.sft if stage == "sft" else config.dpo
    tracker.log_parameters(
        {
            "stage": stage,
            "model_path": str(model_path),
            "base_model": config.base_model,
            "backend": config.backend,
            "seed": config.seed,
            **{f"lora_{key}": value for key, value in config.lora.model_dump(mode="json").items()},
            **stage_config.model_dump(mode="json"),
            "train_samples_available": dataset.num_samples("train"),
            "test_samples_available": dataset.num_samples("test"),
        }
    )
    callbacks = [] if isinstance(tracker, NoTracking) else [TrackingCallback(tracker)]
    run = run_sft if stage == "sft" else run_dpo
    try:
        result = run(config, model_path, dataset, output_dir, callbacks)
        numeric = {
            f"final/{name}": float(value)
            for name, value in result.metrics.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        tracker.log_metrics(numeric)
        tracker.log_asset(output_dir / SUMMARY_FILE)
    finally:
        key = tracker.end()
    result.metrics["experiment"] = key
    return result


def train_and_evaluate(
    config: TrainingConfig,
    base_model: str,
    instruct: TrainTestSplit,
    preference: TrainTestSplit | None,
    output_dir: Path,
    eval_samples: int | None = 50,
) -> dict[str, Any]:
    """SFT of `base_model`, DPO of the result unless `preference` is None, then the held-out losses of
    every model on the same samples: the whole run without a pipeline (the GPU entry point, the bench).
    Returns {"base_model", "models", "stages", "training_seconds", "heldout", "heldout_summary", "improved"}."""
    from llm_engineering.model.evaluation.heldout import compare_heldout

    started = time.perf_counter()
    sft = run_sft(config, base_model, instruct, output_dir / "sft")
    models = {"base": base_model, "sft": str(sft.merged_dir)}
    stages = {"sft": sft.metrics}
    datasets = {"instruct": instruct}
    if preference is not None:
        dpo = run_dpo(config, sft.merged_dir, preference, output_dir / "dpo")
        models["dpo"] = str(dpo.merged_dir)
        stages["dpo"] = dpo.metrics
        datasets["preference_chosen"] = preference
    training_seconds = round(time.perf_counter() - started, 1)
    evaluation = compare_heldout(
        models, datasets, max_samples=eval_samples, max_length=config.sft.max_length, torch_threads=config.torch_threads
    )
    return {
        "base_model": base_model,
        "models": models,
        "stages": stages,
        "training_seconds": training_seconds,
        "heldout": evaluation["results"],
        "heldout_summary": evaluation["summary"],
        "improved": evaluation["improved"],
    }


def hardware() -> dict[str, Any]:
    """What a run ran on: CPU, cores, torch and, when present, the CUDA device."""
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_cores": os.cpu_count(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_memory_gb"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    return info
