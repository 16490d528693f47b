"""Step: held-out loss of the base, SFT and DPO models on the author's test answers (instruct test split)
and on the chosen answers of the preference test split: the figure that says training helped."""

from __future__ import annotations

from typing import Annotated

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.domain.datasets import TrainTestSplit
from steps.training._context import has_model_version


@step
def evaluate_heldout(
    instruct_dataset: TrainTestSplit,
    preference_dataset: TrainTestSplit,
    sft_result: dict,
    dpo_result: dict | None = None,
    max_samples: int = 50,
    max_length: int = 256,
) -> Annotated[dict, "heldout_evaluation"]:
    """{"instruct": {model: figures}, "preference_chosen": {model: figures}, "improved": bool} where model is
    base, sft and dpo, and figures are loss, perplexity, tokens, samples and seconds. The same seeded samples
    score every model. `max_samples` 0 skips the evaluation."""
    from llm_engineering.model.evaluation.heldout import compare_heldout

    models = {"base": sft_result["base_model"], "sft": sft_result["merged_dir"]}
    if dpo_result is not None:
        models["dpo"] = dpo_result["merged_dir"]
    threads = (sft_result.get("config") or {}).get("torch_threads")
    evaluation = compare_heldout(
        models,
        {"instruct": instruct_dataset, "preference_chosen": preference_dataset},
        max_samples=max_samples,
        max_length=max_length,
        torch_threads=threads,
    )
    logger.info("Held-out losses: {}", evaluation["summary"])
    log_metadata(metadata=evaluation["summary"], infer_artifact=True)
    if has_model_version():
        log_metadata(metadata={"heldout": evaluation["summary"]}, infer_model=True)
    return evaluation
