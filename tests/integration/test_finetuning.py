"""SFT then DPO on CPU with a tiny real model (2-layer Llama built on the spot): losses fall, adapters and
merged models are saved, and the merged model loads, carries the served chat template and generates."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from llm_engineering.domain.datasets import (
    CategoryDataset,
    DatasetType,
    InstructDatasetSample,
    PreferenceDatasetSample,
    TrainTestSplit,
)
from llm_engineering.domain.prompts import format_instruction_prompt, instruction_chat_template
from llm_engineering.domain.types import DataCategory
from llm_engineering.model.chat_template import adds_bos
from llm_engineering.model.evaluation.heldout import heldout_loss
from llm_engineering.model.finetuning.config import DPOStageConfig, LoraConfig, SFTStageConfig, TrainingConfig
from llm_engineering.model.finetuning.training import run_dpo, run_sft
from tests.llm_fixtures import build_tiny_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOPICS = ("caching", "retrieval", "chunking", "reranking", "embeddings", "prompting", "evaluation", "serving")


def split_of(kind: DatasetType, train: list, test: list) -> TrainTestSplit:
    def part(samples: list) -> dict:
        return {
            DataCategory.ARTICLES: CategoryDataset(dataset_type=kind, category=DataCategory.ARTICLES, samples=samples)
        }

    return TrainTestSplit(dataset_type=kind, train=part(train), test=part(test))


def instruct_split() -> TrainTestSplit:
    samples = [
        InstructDatasetSample(
            instruction=f"Write a short note about {topic}.",
            answer=f"I keep {topic} simple: measure first, then change one thing at a time.",
        )
        for topic in TOPICS
    ]
    return split_of(DatasetType.INSTRUCTION, samples[:6], samples[6:])


def preference_split() -> TrainTestSplit:
    samples = [
        PreferenceDatasetSample(
            instruction=f"What do you think about {topic}?",
            chosen=f"Measure {topic} before you touch it.",
            rejected=f"{topic.capitalize()} is a multifaceted landscape to delve into.",
        )
        for topic in TOPICS
    ]
    return split_of(DatasetType.PREFERENCE, samples[:6], samples[6:])


def tiny_config() -> TrainingConfig:
    common = {
        "per_device_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "max_length": 128,
        "warmup_steps": 0,
        "optim": "adamw_torch",
        "max_eval_samples": 2,
        "logging_steps": 1,
    }
    return TrainingConfig(
        backend="trl",
        use_bf16="auto",  # bf16 autocast where the CPU has bf16 instructions, as the cpu profile runs
        torch_threads=2,
        lora=LoraConfig(r=8, alpha=16),
        sft=SFTStageConfig(learning_rate=1e-2, max_steps=12, packing=True, **common),
        dpo=DPOStageConfig(learning_rate=5e-3, max_steps=8, beta=0.5, max_prompt_length=96, **common),
    )


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-base") / "tiny-twin")


def test_sft_then_dpo_train_save_and_serve(tiny_model: Path, tmp_path: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = tiny_config()
    instruct, preference = instruct_split(), preference_split()
    base_loss = heldout_loss(tiny_model, instruct, name="train", max_length=128)

    sft = run_sft(config, tiny_model, instruct, tmp_path / "sft")

    assert sft.stage == "sft" and sft.base_model == str(tiny_model)
    assert (sft.adapter_dir / "adapter_config.json").is_file()
    assert (sft.merged_dir / "config.json").is_file() and (tmp_path / "sft" / "stage_result.json").is_file()
    metrics = sft.metrics
    assert metrics["steps"] == 12 and metrics["samples"] == 6 and metrics["tokens"] > 0
    assert metrics["train_loss_last"] < metrics["train_loss_first"]
    assert metrics["eval_loss"] is not None and metrics["tokens_per_s"] > 0 and metrics["peak_rss_mb"] > 0
    assert sft.config["sft"]["max_steps"] == 12
    sft_loss = heldout_loss(sft.merged_dir, instruct, name="train", max_length=128)
    assert sft_loss["loss"] < base_loss["loss"]
    assert sft_loss["samples"] == 6 and math.isfinite(sft_loss["perplexity"])

    dpo = run_dpo(config, sft.merged_dir, preference, tmp_path / "dpo")

    assert dpo.base_model == str(sft.merged_dir)
    assert (dpo.adapter_dir / "adapter_config.json").is_file()
    for key in ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"):
        assert dpo.metrics[key] is not None and math.isfinite(dpo.metrics[key])
    assert dpo.metrics["train_loss_last"] < dpo.metrics["train_loss_first"]
    assert dpo.metrics["rewards/margins"] > 0

    # The merged DPO model is a plain transformers model with the served template, and it generates.
    tokenizer = AutoTokenizer.from_pretrained(dpo.merged_dir)
    assert tokenizer.chat_template == instruction_chat_template(bos=adds_bos(tokenizer))
    model = AutoModelForCausalLM.from_pretrained(dpo.merged_dir)
    assert model.dtype == torch.float32
    assert not any("lora" in name for name, _ in model.named_parameters())
    inputs = tokenizer(format_instruction_prompt("Write a short note about caching."), return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert output.shape[1] > inputs["input_ids"].shape[1]
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Write a short note about caching."}], tokenize=False, add_generation_prompt=True
    )
    assert rendered.endswith(format_instruction_prompt("Write a short note about caching.")[-20:])
    # A server tokenizes the rendered chat without special tokens: it must see the training prompt's tokens.
    served_ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
    assert served_ids == inputs["input_ids"][0].tolist()


def test_scoring_label_positions_only_leaves_log_probs_unchanged(tiny_model: Path):
    import torch
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    from llm_engineering.model.finetuning.backends import score_label_positions_only_on_cpu

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    add_fused_lm_head(model)
    ids = torch.randint(3, 400, (2, 24), generator=torch.Generator().manual_seed(0))
    labels = ids.clone()
    labels[:, :10] = -100  # a prompt without labels
    every = model(input_ids=ids, labels=labels, fused_lm_head=True).log_probs
    with score_label_positions_only_on_cpu():
        compact = model(input_ids=ids, labels=labels, fused_lm_head=True).log_probs

    torch.testing.assert_close(compact, every)
    assert (every[:, :9] == 0).all() and (every[:, 10:] != 0).all()


def test_a_wrong_dataset_fails_before_training(tiny_model: Path, tmp_path: Path):
    from llm_engineering.model.errors import TrainingDataError

    with pytest.raises(TrainingDataError, match="needs a dataset of type instruction"):
        run_sft(tiny_config(), tiny_model, preference_split(), tmp_path / "sft")
    assert not (tmp_path / "sft" / "merged").exists()


def test_finetune_entry_point_trains_both_stages_and_writes_a_summary(tiny_model: Path, tmp_path: Path):
    import json

    import yaml

    from llm_engineering.model.dataset_files import export_split
    from llm_engineering.model.finetuning import finetune

    profile = tiny_config().model_dump(mode="json") | {"base_model": str(tiny_model)}
    profile["sft"]["max_steps"], profile["dpo"]["max_steps"] = 4, 3
    config = tmp_path / "training.yaml"
    config.write_text(yaml.safe_dump({"profiles": {"tiny": profile}}))
    export_split(instruct_split(), tmp_path / "data")
    export_split(preference_split(), tmp_path / "data")

    code = finetune.main(
        [
            "--profile", "tiny", "--config", str(config),
            "--instruct", str(tmp_path / "data" / "instruct_datasets"),
            "--preference", str(tmp_path / "data" / "preference_datasets"),
            "--output-dir", str(tmp_path / "out"), "--eval-samples", "2",
            "--sagemaker-only-flag", "ignored",
        ]
    )  # fmt: skip

    assert code == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["stages"]["sft"]["steps"] == 4 and summary["stages"]["dpo"]["steps"] == 3
    assert summary["served_model"] == str(tmp_path / "out" / "dpo" / "merged")
    assert set(summary["heldout"]["instruct"]) == {"base", "sft", "dpo"} and summary["hardware"]["cpu_cores"] >= 1
