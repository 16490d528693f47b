"""Training configs: strict keys, validated ranges, profiles with `extends`, the book's GPU recipe."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llm_engineering.model.errors import TrainingConfigError
from llm_engineering.model.finetuning.config import (
    ALL_PROJECTIONS,
    DPOStageConfig,
    LoraConfig,
    SFTStageConfig,
    TrainingConfig,
    load_training_config,
)
from tests.conftest import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "configs" / "training.yaml"


def write_profiles(tmp_path: Path, profiles: dict) -> Path:
    path = tmp_path / "training.yaml"
    path.write_text(yaml.safe_dump({"profiles": profiles}))
    return path


def test_gpu_profile_is_the_books_recipe():
    config = load_training_config(CONFIG, "gpu")

    assert (config.lora.r, config.lora.alpha, config.lora.dropout) == (32, 32, 0.0)
    assert set(config.lora.target_modules) == set(ALL_PROJECTIONS)
    sft = config.sft
    assert (sft.learning_rate, sft.lr_scheduler_type, sft.epochs, sft.max_steps) == (3e-4, "linear", 3, None)
    assert (sft.per_device_batch_size, sft.gradient_accumulation_steps, sft.effective_batch_size) == (2, 8, 16)
    assert (sft.max_length, sft.packing, sft.warmup_steps, sft.weight_decay, sft.optim) == (
        2048,
        True,
        10,
        0.01,
        "adamw_8bit",
    )
    dpo = config.dpo
    assert (dpo.beta, dpo.learning_rate, dpo.epochs, dpo.max_length, dpo.max_prompt_length) == (
        0.5,
        2e-6,
        1,
        1024,
        1024,
    )
    assert (dpo.per_device_batch_size, dpo.gradient_accumulation_steps, dpo.warmup_steps, dpo.optim) == (
        2,
        8,
        10,
        "adamw_8bit",
    )
    assert config.seed == 0 and config.use_bf16 == "auto" and not config.load_in_4bit


def test_cpu_profile_extends_gpu_with_small_budgets():
    config = load_training_config(CONFIG, "cpu")

    assert config.base_model == "local" and config.backend == "trl"
    assert config.lora.r in (8, 16) and config.lora.dropout == 0.0  # dropout inherited from gpu
    for stage in (config.sft, config.dpo):
        assert stage.optim == "adamw_torch"
        assert stage.max_length <= 1024
        # A time budget bounds the CPU run, with a schedule that does not depend on the step count.
        assert stage.max_minutes is not None and stage.lr_scheduler_type == "constant_with_warmup"
    assert config.sft.max_minutes + config.dpo.max_minutes <= 20
    assert config.dpo.beta == 0.5  # inherited
    assert config.dpo.learning_rate > load_training_config(CONFIG, "gpu").dpo.learning_rate


def test_unknown_key_is_rejected_by_name(tmp_path):
    path = write_profiles(tmp_path, {"p": {"sft": {"learning_rate": 1e-4, "learnin_rate": 1e-4}}})

    with pytest.raises(TrainingConfigError, match=r"sft\.learnin_rate"):
        load_training_config(path, "p")


def test_unknown_top_level_key_is_rejected(tmp_path):
    path = write_profiles(tmp_path, {"p": {"lora_rank": 8}})

    with pytest.raises(TrainingConfigError, match="lora_rank"):
        load_training_config(path, "p")


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"lora": {"r": 0}}, "lora.r"),
        ({"lora": {"dropout": 1.0}}, "lora.dropout"),
        ({"lora": {"target_modules": []}}, "lora.target_modules"),
        ({"sft": {"learning_rate": 0}}, "sft.learning_rate"),
        ({"sft": {"per_device_batch_size": 0}}, "sft.per_device_batch_size"),
        ({"sft": {"max_steps": 0}}, "sft.max_steps"),
        ({"sft": {"eval_steps": 1.5}}, "sft.eval_steps"),
        ({"sft": {"optim": "adam_magic"}}, "sft.optim"),
        ({"dpo": {"beta": -0.1}}, "dpo.beta"),
        ({"dpo": {"max_length": 256, "max_prompt_length": 512}}, "max_prompt_length"),
        ({"dpo": {"packing": True}}, "dpo.packing"),  # DPO has no packing
        ({"backend": "deepspeed"}, "backend"),
        ({"use_bf16": "maybe"}, "use_bf16"),
        ({"torch_threads": 0}, "torch_threads"),
    ],
)
def test_out_of_range_values_are_rejected_naming_the_key(tmp_path, override, key):
    path = write_profiles(tmp_path, {"p": override})

    with pytest.raises(TrainingConfigError, match=key.replace(".", r"\.")):
        load_training_config(path, "p")


def test_extends_merges_nested_keys_and_child_wins(tmp_path):
    path = write_profiles(
        tmp_path,
        {
            "base": {"seed": 1, "lora": {"r": 32, "alpha": 64}, "sft": {"learning_rate": 1e-4, "max_length": 512}},
            "mid": {"extends": "base", "lora": {"r": 8}},
            "leaf": {"extends": "mid", "sft": {"max_length": 128}},
        },
    )

    config = load_training_config(path, "leaf")

    assert (config.seed, config.lora.r, config.lora.alpha) == (1, 8, 64)
    assert (config.sft.learning_rate, config.sft.max_length) == (1e-4, 128)


def test_unknown_profile_lists_the_available_ones(tmp_path):
    path = write_profiles(tmp_path, {"cpu": {}, "gpu": {}})

    with pytest.raises(TrainingConfigError, match=r"unknown profile 'tpu'.*available: cpu, gpu"):
        load_training_config(path, "tpu")


def test_unknown_parent_and_cycles_are_reported(tmp_path):
    path = write_profiles(tmp_path, {"a": {"extends": "b"}, "b": {"extends": "a"}, "c": {"extends": "nope"}})

    with pytest.raises(TrainingConfigError, match="cycle"):
        load_training_config(path, "a")
    with pytest.raises(TrainingConfigError, match="'nope' \\(extended by 'c'\\)"):
        load_training_config(path, "c")


def test_missing_file_and_bad_shape(tmp_path):
    with pytest.raises(TrainingConfigError, match="does not exist"):
        load_training_config(tmp_path / "absent.yaml", "cpu")
    bad = tmp_path / "bad.yaml"
    bad.write_text("cpu: {}\n")
    with pytest.raises(TrainingConfigError, match="profiles"):
        load_training_config(bad, "cpu")


def test_defaults_and_fractional_eval_steps():
    assert LoraConfig().target_modules == ALL_PROJECTIONS
    assert SFTStageConfig(eval_steps=0.2).eval_steps == 0.2
    assert SFTStageConfig(eval_steps=5).eval_steps == 5
    assert DPOStageConfig(max_length=512, max_prompt_length=512).max_prompt_length == 512


def test_resolve_base_model():
    assert TrainingConfig().resolve_base_model("/models/gemma") == "/models/gemma"
    assert TrainingConfig(base_model="org/model").resolve_base_model("/models/gemma") == "org/model"
    with pytest.raises(TrainingConfigError, match="local"):
        TrainingConfig().resolve_base_model(None)


def test_the_zenml_run_config_holds_the_profiles_as_a_pipeline_parameter():
    from llm_engineering.model.finetuning.config import training_config_from_profiles

    config_file = PROJECT_ROOT / "configs" / "training.yaml"
    run_config = yaml.safe_load(config_file.read_text())
    assert set(run_config) <= {"model", "parameters", "settings", "steps"}  # what ZenML accepts
    from_parameters = training_config_from_profiles(run_config["parameters"]["profiles"], "cpu")

    assert load_training_config(config_file, "cpu") == from_parameters
    assert run_config["parameters"]["profile"] == "cpu"
    with pytest.raises(TrainingConfigError, match=r"training pipeline.*unknown profile 'tpu'"):
        training_config_from_profiles(run_config["parameters"]["profiles"], "tpu", "the training pipeline")
