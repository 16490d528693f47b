"""The two training stages: SFT of a base model, then DPO of the SFT model, each with a fresh LoRA adapter.

Each stage selects its rows (`data.py`), trains with TRL (on Unsloth's patched model on a CUDA GPU), saves
the adapter, merges it into a full model (the base's dtype, with the project's chat template), and returns a
`StageResult` with the figures worth logging. DPO uses `ref_model=None`: the model with its adapter
disabled (the SFT model) is the reference, so no second copy is loaded.

Experiment tracking comes in through `callbacks` (transformers `TrainerCallback`s); nothing is reported
anywhere by default. Heavy libraries are imported inside the functions.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import resource
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from loguru import logger

from llm_engineering.domain.datasets import TrainTestSplit
from llm_engineering.model.errors import TrainingDataError, TrainingError
from llm_engineering.model.finetuning import backends
from llm_engineering.model.finetuning.config import DPOStageConfig, SFTStageConfig, TrainingConfig
from llm_engineering.model.finetuning.data import (
    Selection,
    dpo_selection,
    instruct_row,
    preference_row,
    sft_selection,
)
from llm_engineering.model.finetuning.progress import StepProgress
from llm_engineering.model.tracking import quiet_vendor_error_reporting

Stage = Literal["sft", "dpo"]
ADAPTER_DIR = "adapter"
MERGED_DIR = "merged"
SUMMARY_FILE = "stage_result.json"
# Last logged value of each of these DPO metrics goes into `StageResult.metrics`.
DPO_REWARD_KEYS: tuple[str, ...] = ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies")


@dataclass
class StageResult:
    """What a stage produced: where the adapter and the merged model are, and how the run went."""

    stage: Stage
    base_model: str
    adapter_dir: Path
    merged_dir: Path
    metrics: dict[str, float | int | str | None]
    log_history: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["adapter_dir"], data["merged_dir"] = str(self.adapter_dir), str(self.merged_dir)
        return data


def run_sft(
    config: TrainingConfig,
    base_model_dir: str | Path,
    dataset: TrainTestSplit,
    output_dir: str | Path,
    callbacks: Sequence[Any] = (),
) -> StageResult:
    """Supervised fine-tuning of `base_model_dir` (a folder or model id; see
    `TrainingConfig.resolve_base_model`) on the instruct `dataset`'s train split (eval loss on its test
    split). Writes `adapter/`, `merged/` and `stage_result.json` under `output_dir`.

    Raises TrainingDataError (dataset), TrainingBackendError (backend, model) or TrainingError (training).
    """
    return _run_stage("sft", config, str(base_model_dir), dataset, Path(output_dir), callbacks)


def run_dpo(
    config: TrainingConfig,
    sft_model_dir: str | Path,
    dataset: TrainTestSplit,
    output_dir: str | Path,
    callbacks: Sequence[Any] = (),
) -> StageResult:
    """DPO of the merged SFT model in `sft_model_dir` on the preference `dataset` (the model with its new
    adapter disabled is the reference). Writes `adapter/`, `merged/` and `stage_result.json` under
    `output_dir`; the metrics include the last rewards/chosen, rejected, margins and accuracies."""
    return _run_stage("dpo", config, str(sft_model_dir), dataset, Path(output_dir), callbacks)


def _run_stage(
    stage: Stage,
    config: TrainingConfig,
    model_path: str,
    dataset: TrainTestSplit,
    output_dir: Path,
    callbacks: Sequence[Any],
) -> StageResult:
    quiet_vendor_error_reporting()  # before trl's trainers import comet_ml
    stage_config = config.sft if stage == "sft" else config.dpo
    backend = backends.resolve_backend(config)  # before trl is imported: Unsloth patches it on import
    precision = backends.resolve_precision(config)
    started = time.perf_counter()
    output_dir.mkdir(parents=True, exist_ok=True)
    adapter_dir, merged_dir = output_dir / ADAPTER_DIR, output_dir / MERGED_DIR
    logger.info(
        "{} of {} with {} ({}, {} threads) into {}",
        stage.upper(),
        model_path,
        backend,
        precision.name,
        config.torch_threads or "default",
        output_dir,
    )
    with backends.torch_threads(config.torch_threads):
        if backend == "unsloth":
            model, tokenizer = backends.load_unsloth_model(
                model_path, config, stage_config.max_length, stage_config.gradient_checkpointing
            )
            peft_config = None
            train_rows, eval_rows, selected = _rows(stage, stage_config, dataset, tokenizer, config.seed)
        else:
            tokenizer = backends.load_tokenizer(model_path)
            # Rows first: a dataset problem fails before the model is loaded.
            train_rows, eval_rows, selected = _rows(stage, stage_config, dataset, tokenizer, config.seed)
            model = backends.load_trl_model(model_path, config)
            peft_config = backends.peft_lora_config(config.lora)
        meter = _Meter()
        # Logs steps done of the total with the time left; ends the loop when the stage's budget is spent.
        progress = StepProgress(stage_config.max_minutes)
        trainer = _build_trainer(
            stage,
            backend,
            config,
            stage_config,
            precision,
            model,
            tokenizer,
            peft_config,
            train_rows,
            eval_rows,
            output_dir,
            [meter, progress, *callbacks],
        )
        try:
            with backends.score_label_positions_only_on_cpu():
                output = trainer.train()
                final_eval = trainer.evaluate() if eval_rows is not None else {}
        except (RuntimeError, ValueError) as error:
            raise TrainingError(f"{stage.upper()} training of {model_path} failed: {error}") from error
        trainer.model.save_pretrained(adapter_dir)
        tokenizer.save_pretrained(adapter_dir)
        log_history = [dict(entry) for entry in trainer.state.log_history]
        steps = trainer.state.global_step
        del trainer, model
        gc.collect()
        backends.merge_adapter(model_path, adapter_dir, merged_dir)
    metrics = _metrics(
        stage, output.metrics, final_eval, log_history, steps, selected, meter, stage_config.effective_batch_size
    )
    metrics["total_seconds"] = round(time.perf_counter() - started, 1)
    metrics.update(backend=backend, precision=precision.name)
    result = StageResult(
        stage=stage,
        base_model=model_path,
        adapter_dir=adapter_dir,
        merged_dir=merged_dir,
        metrics=metrics,
        log_history=log_history,
        config=config.model_dump(mode="json"),
    )
    (output_dir / SUMMARY_FILE).write_text(json.dumps(result.to_dict(), indent=2, default=str), encoding="utf-8")
    logger.info("{} done in {}s: {}", stage.upper(), metrics["total_seconds"], _brief(metrics))
    return result


@dataclass(frozen=True)
class _Selected:
    """What the train split offered the stage: samples that fit, their tokens, and those left out."""

    samples: int
    tokens: int
    too_long: int


def _rows(
    stage: Stage, stage_config: SFTStageConfig | DPOStageConfig, dataset: TrainTestSplit, tokenizer: Any, seed: int
) -> tuple[Any, Any, _Selected]:
    """(train Dataset, eval Dataset or None, what the train split offered)."""
    from datasets import Dataset

    def select(name: Literal["train", "test"], max_samples: int | None) -> tuple[list[dict[str, str]], Selection]:
        if stage == "sft":
            chosen = sft_selection(dataset, tokenizer, name, stage_config.max_length, max_samples, seed)
            return [instruct_row(sample, tokenizer.eos_token) for sample in chosen.samples], chosen
        chosen = dpo_selection(
            dataset, tokenizer, name, stage_config.max_length, stage_config.max_prompt_length, max_samples, seed
        )
        return [preference_row(sample, tokenizer.eos_token) for sample in chosen.samples], chosen

    train, selection = select("train", stage_config.max_train_samples)
    evaluation = None
    if stage_config.max_eval_samples != 0 and dataset.num_samples("test"):
        try:
            evaluation = Dataset.from_list(select("test", stage_config.max_eval_samples)[0])
        except TrainingDataError as error:
            logger.warning("No evaluation during {}: {}", stage.upper(), error)
    return Dataset.from_list(train), evaluation, _Selected(len(train), selection.tokens, selection.too_long)


def _common_args(
    config: TrainingConfig,
    stage_config: SFTStageConfig | DPOStageConfig,
    precision: backends.Precision,
    output_dir: Path,
    has_eval: bool,
) -> dict[str, Any]:
    evaluate_during = has_eval and stage_config.eval_steps is not None
    return {
        "output_dir": str(output_dir / "checkpoints"),
        "learning_rate": stage_config.learning_rate,
        "lr_scheduler_type": stage_config.lr_scheduler_type,
        "num_train_epochs": stage_config.epochs,
        "max_steps": stage_config.max_steps or -1,
        "per_device_train_batch_size": stage_config.per_device_batch_size,
        "per_device_eval_batch_size": stage_config.per_device_batch_size,
        "gradient_accumulation_steps": stage_config.gradient_accumulation_steps,
        "warmup_steps": stage_config.warmup_steps,
        "weight_decay": stage_config.weight_decay,
        "optim": stage_config.optim,
        "logging_steps": stage_config.logging_steps,
        "eval_strategy": "steps" if evaluate_during else "no",
        "eval_steps": stage_config.eval_steps if evaluate_during else None,
        "bf16": precision.bf16,
        "fp16": precision.fp16,
        "use_cpu": precision.cpu,  # transformers refuses bf16 without a GPU unless told it is on the CPU
        "seed": config.seed,
        "data_seed": config.seed,
        "save_strategy": "no",  # the adapter and the merged model are saved once, at the end
        "report_to": "none",  # tracking is injected as callbacks
        "dataloader_num_workers": 0,
    }


def _checkpointing(config_class: type, enabled: bool) -> dict[str, bool]:
    # transformers 5.2x renamed `gradient_checkpointing` to `activation_checkpointing` (the old name warns);
    # the GPU images pin an older transformers that only knows the old name.
    names = {item.name for item in dataclasses.fields(config_class)}
    return {"activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing": enabled}


def _build_trainer(
    stage: Stage,
    backend: backends.Backend,
    config: TrainingConfig,
    stage_config: SFTStageConfig | DPOStageConfig,
    precision: backends.Precision,
    model: Any,
    tokenizer: Any,
    peft_config: Any,
    train_rows: Any,
    eval_rows: Any,
    output_dir: Path,
    callbacks: list[Any],
) -> Any:
    common = _common_args(config, stage_config, precision, output_dir, eval_rows is not None)
    if stage == "sft":
        from trl import SFTConfig, SFTTrainer

        assert isinstance(stage_config, SFTStageConfig)
        args = SFTConfig(
            **common,
            **_checkpointing(SFTConfig, stage_config.gradient_checkpointing),
            max_length=stage_config.max_length,
            packing=stage_config.packing,
            completion_only_loss=True,  # prompt-completion rows: the loss is on the answer only
        )
        return SFTTrainer(
            model=model,
            args=args,
            train_dataset=train_rows,
            eval_dataset=eval_rows,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=callbacks,
        )
    if backend == "unsloth":
        backends.patch_unsloth_dpo()
    from trl import DPOConfig, DPOTrainer

    assert isinstance(stage_config, DPOStageConfig)
    args = DPOConfig(
        **common,
        **_checkpointing(DPOConfig, stage_config.gradient_checkpointing),
        beta=stage_config.beta,
        max_length=stage_config.max_length,
    )
    return DPOTrainer(
        model=model,
        ref_model=None,
        args=args,
        train_dataset=train_rows,
        eval_dataset=eval_rows,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )


class _Meter:
    """A TrainerCallback that times the training loop (transformers calls whichever hooks exist)."""

    def __init__(self) -> None:
        self.started: tuple[float, float] | None = None
        self.seconds: float = 0.0
        self.cpu_seconds: float = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = (time.perf_counter(), time.process_time())

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.started is not None:
            self.seconds = time.perf_counter() - self.started[0]
            # CPU time of all threads: wall time alone hides other processes competing for the cores.
            self.cpu_seconds = time.process_time() - self.started[1]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def _metrics(
    stage: Stage,
    train_metrics: dict[str, Any],
    final_eval: dict[str, Any],
    log_history: list[dict[str, Any]],
    steps: int,
    selected: _Selected,
    meter: _Meter,
    effective_batch_size: int = 1,
) -> dict[str, Any]:
    train_logs = [entry for entry in log_history if "loss" in entry]
    tokens = max((int(entry.get("num_tokens", 0)) for entry in train_logs), default=0)
    seconds = meter.seconds or float(train_metrics.get("train_runtime", 0.0))
    metrics: dict[str, Any] = {
        "train_loss_first": train_logs[0]["loss"] if train_logs else None,
        "train_loss_last": train_logs[-1]["loss"] if train_logs else None,
        "train_loss_mean": train_metrics.get("train_loss"),
        "eval_loss": final_eval.get("eval_loss"),
        "steps": steps,
        "samples": selected.samples,
        # Under a time budget the loop may stop before an epoch: what it reached of what the split offered.
        "samples_trained": min(selected.samples, steps * effective_batch_size),
        "dataset_tokens": selected.tokens,
        "skipped_too_long": selected.too_long,
        "tokens": tokens,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(meter.cpu_seconds, 1),
        "tokens_per_s": round(tokens / seconds, 1) if seconds else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),  # process peak so far
    }
    if stage == "dpo":
        for key in DPO_REWARD_KEYS:
            values = [entry[key] for entry in train_logs if key in entry]
            metrics[key] = values[-1] if values else None
            metrics[f"eval_{key}"] = final_eval.get(f"eval_{key}")
    return metrics


def _brief(metrics: dict[str, Any]) -> str:
    keys = ("train_loss_first", "train_loss_last", "eval_loss", "steps", "tokens_per_s", "rewards/margins")
    return ", ".join(f"{key}={metrics[key]}" for key in keys if metrics.get(key) is not None)
