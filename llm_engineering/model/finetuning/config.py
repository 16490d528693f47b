"""Typed training configuration: LoRA, the SFT and DPO stages, and the run-wide switches, loaded from the
profiles of `configs/training.yaml` (`{profiles: {<name>: {...}}}`, a profile may `extends:` another).

Pure pydantic: every model forbids unknown keys and checks its ranges, so a typo in the YAML fails at load
time with the key's dotted path, not hours into a GPU job.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from llm_engineering.model.errors import TrainingConfigError

# The seven linear projections of a Llama/Gemma decoder block: the book targets all of them.
ALL_PROJECTIONS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

# `base_model` value meaning "the converted local model folder the caller passes in".
LOCAL_BASE_MODEL = "local"

# Optimizer names of `transformers.TrainingArguments.optim` that these jobs use. The 8-bit ones need
# bitsandbytes (GPU images only).
OptimizerName = Literal[
    "adamw_torch",
    "adamw_torch_fused",
    "adamw_8bit",
    "adamw_bnb_8bit",
    "paged_adamw_8bit",
    "paged_adamw_32bit",
    "adafactor",
    "sgd",
]
SchedulerName = Literal[
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoraConfig(_Strict):
    """LoRA adapter shape: rank, scale (`alpha / r`), dropout and the layers it wraps."""

    r: int = Field(default=16, ge=1, le=1024)
    alpha: int = Field(default=16, ge=1, le=4096)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: tuple[str, ...] = Field(default=ALL_PROJECTIONS, min_length=1)

    @field_validator("target_modules")
    @classmethod
    def _no_blank_or_duplicate(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not name.strip() for name in value):
            raise ValueError("target module names must not be empty")
        if len(set(value)) != len(value):
            raise ValueError("target modules must not repeat")
        return value


class _StageConfig(_Strict):
    """What both stages share: optimisation, sequence budget, data budget, logging and evaluation."""

    learning_rate: float = Field(gt=0.0, le=1.0)
    lr_scheduler_type: SchedulerName = "linear"
    epochs: float = Field(default=1.0, gt=0.0, le=100.0)
    # Set: train exactly this many optimiser steps (overrides `epochs`); None: train `epochs` epochs.
    max_steps: int | None = Field(default=None, ge=1)
    # Set: stop training after this many minutes of the training loop (whatever `max_steps`/`epochs` say);
    # pair it with a constant learning rate, since a decaying schedule is sized from the step count.
    max_minutes: float | None = Field(default=None, gt=0.0, le=10080.0)
    per_device_batch_size: int = Field(default=2, ge=1, le=1024)
    gradient_accumulation_steps: int = Field(default=1, ge=1, le=1024)
    max_length: int = Field(default=1024, ge=16, le=131072)
    warmup_steps: int = Field(default=0, ge=0)
    weight_decay: float = Field(default=0.0, ge=0.0, le=1.0)
    optim: OptimizerName = "adamw_torch"
    # Recompute activations in the backward pass: saves memory, costs about a fifth more compute.
    gradient_checkpointing: bool = False
    # None: every train sample that fits `max_length`.
    max_train_samples: int | None = Field(default=None, ge=1)
    # Held-out samples (test split) for the eval loss: 0 turns evaluation off, None takes the whole split.
    max_eval_samples: int | None = Field(default=0, ge=0)
    logging_steps: int = Field(default=1, ge=1)
    # Evaluate every N steps (int) or every fraction of the run (float in (0, 1)); None: once at the end.
    eval_steps: int | float | None = None

    @field_validator("eval_steps")
    @classmethod
    def _steps_or_ratio(cls, value: float | None) -> int | float | None:
        if value is None:
            return None
        if isinstance(value, float) and not value.is_integer():
            if not 0.0 < value < 1.0:
                raise ValueError("a fractional eval_steps must lie in (0, 1)")
            return value
        if value < 1:
            raise ValueError("eval_steps must be a positive step count or a fraction in (0, 1)")
        return int(value)

    @property
    def effective_batch_size(self) -> int:
        return self.per_device_batch_size * self.gradient_accumulation_steps


class SFTStageConfig(_StageConfig):
    """Supervised fine-tuning on (instruction, answer) pairs; the loss is on the answer only."""

    learning_rate: float = Field(default=3e-4, gt=0.0, le=1.0)
    # Several short samples per `max_length` sequence (block-diagonal attention, no cross-sample attention).
    packing: bool = True


class DPOStageConfig(_StageConfig):
    """Direct preference optimisation on (prompt, chosen, rejected) triples."""

    learning_rate: float = Field(default=2e-6, gt=0.0, le=1.0)
    beta: float = Field(default=0.1, gt=0.0, le=100.0)
    # Samples whose formatted prompt is longer are left out (TRL 1.x no longer truncates prompts separately).
    max_prompt_length: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _prompt_within_length(self) -> DPOStageConfig:
        if self.max_prompt_length is not None and self.max_prompt_length > self.max_length:
            raise ValueError(
                f"max_prompt_length ({self.max_prompt_length}) must not exceed max_length ({self.max_length})"
            )
        return self


class TrainingConfig(_Strict):
    """One training run: base model, backend, precision, LoRA and both stages."""

    # "local": the converted local model folder given by the caller; otherwise a folder or a Hub model id.
    base_model: str = Field(default=LOCAL_BASE_MODEL, min_length=1)
    # auto: Unsloth when CUDA is present and `import unsloth` works, else TRL + PEFT.
    backend: Literal["auto", "trl", "unsloth"] = "auto"
    # QLoRA: load the frozen base in 4 bits (CUDA + bitsandbytes only).
    load_in_4bit: bool = False
    seed: int = Field(default=0, ge=0)
    # None: leave torch's default (one thread per core).
    torch_threads: int | None = Field(default=None, ge=1, le=1024)
    # auto: bf16 where the hardware has it natively (GPU: else fp16, as the book does; CPU: else fp32).
    use_bf16: Literal["auto", "on", "off"] = "auto"
    lora: LoraConfig = LoraConfig()
    sft: SFTStageConfig = SFTStageConfig()
    dpo: DPOStageConfig = DPOStageConfig()

    def resolve_base_model(self, local_model_dir: str | Path | None) -> str:
        """What to load: `local_model_dir` when `base_model` is "local", else `base_model` itself."""
        if self.base_model != LOCAL_BASE_MODEL:
            return self.base_model
        if local_model_dir is None:
            raise TrainingConfigError(
                "base_model is 'local' but no local model folder was given; convert the local model first "
                "(tools/local_llm.py) or set base_model to a folder or model id."
            )
        return str(local_model_dir)


def load_training_config(path: str | Path, profile: str) -> TrainingConfig:
    """The `profile` of the YAML file at `path`, with its `extends:` chain merged (child keys win, nested
    mappings merged key by key). The profiles sit under `profiles:` at the top level or under the ZenML
    run config's `parameters:`. Raises TrainingConfigError for a missing file, an unknown profile (listing
    the available ones), an `extends` cycle, or invalid values (each named by its dotted key)."""
    path = Path(path)
    return training_config_from_profiles(_read_profiles(path), profile, str(path))


def training_config_from_profiles(
    profiles: Mapping[str, Any], profile: str, source: str = "profiles"
) -> TrainingConfig:
    """The `profile` of an already loaded `{name: {...}}` mapping (the training pipeline's `profiles`
    parameter), validated as `load_training_config` does; `source` names where the mapping came from."""
    if not isinstance(profiles, Mapping) or not profiles:
        raise TrainingConfigError(f"{source}: expected a non-empty mapping of training profiles")
    values = _resolve_profile(profiles, profile, source)
    try:
        return TrainingConfig.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or '<root>'}: {item['msg']}" for item in error.errors()
        )
        raise TrainingConfigError(f"{source} profile {profile!r} is invalid: {problems}") from error


def _read_profiles(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise TrainingConfigError(f"Training config {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise TrainingConfigError(f"{path} is not valid YAML: {error}") from error
    if isinstance(data, Mapping) and "profiles" not in data and isinstance(data.get("parameters"), Mapping):
        data = data["parameters"]  # a ZenML run config: the profiles are a pipeline parameter
        if not isinstance(data.get("profiles"), Mapping):
            raise TrainingConfigError(f"{path}: `parameters:` holds no `profiles: {{<name>: {{...}}}}` mapping")
        return dict(data["profiles"])
    if not isinstance(data, Mapping) or not isinstance(data.get("profiles"), Mapping):
        raise TrainingConfigError(f"{path} must hold a mapping `profiles: {{<name>: {{...}}}}`")
    unknown = sorted(set(data) - {"profiles"})
    if unknown:
        raise TrainingConfigError(f"{path}: unknown top-level keys {unknown}; only `profiles` is allowed")
    return dict(data["profiles"])


def _resolve_profile(profiles: Mapping[str, Any], name: str, path: str) -> dict[str, Any]:
    chain: list[str] = []
    current: str | None = name
    while current is not None:
        if current in chain:
            raise TrainingConfigError(
                f"{path}: profiles extend each other in a cycle: {' -> '.join([*chain, current])}"
            )
        if current not in profiles:
            available = ", ".join(sorted(profiles)) or "none"
            wanted = "" if current == name else f" (extended by {chain[-1]!r})"
            raise TrainingConfigError(f"{path}: unknown profile {current!r}{wanted}; available: {available}")
        body = profiles[current] or {}
        if not isinstance(body, Mapping):
            raise TrainingConfigError(f"{path}: profile {current!r} must be a mapping")
        chain.append(current)
        parent = body.get("extends")
        if parent is not None and not isinstance(parent, str):
            raise TrainingConfigError(f"{path}: profile {current!r} has a non-string `extends`")
        current = parent
    merged: dict[str, Any] = {}
    for profile_name in reversed(chain):
        body = {key: value for key, value in dict(profiles[profile_name] or {}).items() if key != "extends"}
        merged = _deep_merge(merged, body)
    return merged


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
