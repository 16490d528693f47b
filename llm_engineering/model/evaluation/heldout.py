"""Held-out loss: the mean negative log-likelihood a model gives the reference answers of a dataset split,
in the training prompt layout. No judge needed; lower is better, and a fine-tuned model should beat its base.

For instruct samples the reference is the answer, for preference samples the chosen answer; both end with
EOS, as in training. The output layer is applied to the answer positions only (`logits_to_keep`), which
matters on CPU with a 262k-token vocabulary. torch and transformers are imported inside `heldout_loss`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from loguru import logger

from llm_engineering.domain.datasets import DatasetType, TrainTestSplit
from llm_engineering.domain.prompts import format_instruction_prompt
from llm_engineering.model.errors import TrainingDataError
from llm_engineering.model.finetuning import backends
from llm_engineering.model.finetuning.data import dpo_selection, instruct_row, preference_row, sft_selection


def heldout_loss(
    model_dir: str | Path,
    split: TrainTestSplit,
    max_samples: int | None = 50,
    max_length: int = 256,
    seed: int = 0,
    name: Literal["train", "test"] = "test",
    torch_threads: int | None = None,
) -> dict[str, Any]:
    """Mean token NLL of the reference answers of `split`'s `name` split (default: test) under the model in
    `model_dir`: up to `max_samples` samples (seeded selection, those that fit `max_length` tokens), with
    `torch_threads` CPU threads (None: torch's default).

    Returns {"loss", "perplexity", "tokens", "samples", "seconds"}. The same seed and split give the same
    samples for every model, so figures are comparable across base, SFT and DPO models.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    pairs = _prompt_answer_pairs(split, tokenizer, name, max_length, max_samples, seed)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    model.eval()
    total_nll, total_tokens = 0.0, 0
    with backends.torch_threads(torch_threads), torch.inference_mode():
        for prompt, answer in pairs:
            nll, tokens = _answer_nll(model, tokenizer, prompt, answer)
            total_nll += nll
            total_tokens += tokens
    loss = total_nll / total_tokens
    result = {
        "loss": round(loss, 4),
        "perplexity": round(math.exp(loss), 2),
        "tokens": total_tokens,
        "samples": len(pairs),
        "seconds": round(time.perf_counter() - started, 1),
    }
    logger.info("Held-out loss of {} on {} {} samples: {}", model_dir, len(pairs), name, result)
    return result


def answer_losses(
    model_dir: str | Path,
    instructions: list[str],
    answers: list[str],
    max_length: int = 1024,
    torch_threads: int | None = None,
) -> list[float | None]:
    """Mean token NLL of each reference answer (ending with EOS, in the training prompt layout) given its
    instruction, under the model in `model_dir`; None for a pair longer than `max_length` tokens."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if len(instructions) != len(answers):
        raise ValueError(f"{len(instructions)} instructions but {len(answers)} answers: they must be aligned.")
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    model.eval()
    losses: list[float | None] = []
    with backends.torch_threads(torch_threads), torch.inference_mode():
        for instruction, answer in zip(instructions, answers, strict=True):
            prompt, completion = format_instruction_prompt(instruction), answer + tokenizer.eos_token
            if len(tokenizer(prompt + completion)["input_ids"]) > max_length:
                losses.append(None)
                continue
            nll, tokens = _answer_nll(model, tokenizer, prompt, completion)
            losses.append(nll / tokens)
    return losses


def _answer_nll(model: Any, tokenizer: Any, prompt: str, answer: str) -> tuple[float, int]:
    """Summed NLL of `answer`'s tokens after `prompt`, and their count."""
    import torch

    prompt_ids = tokenizer(prompt)["input_ids"]
    ids = tokenizer(prompt + answer)["input_ids"]
    start = _common_prefix(prompt_ids, ids)  # where the answer's tokens begin
    targets = torch.tensor(ids[start:])
    # The logits at positions start-1 .. n-2 predict the answer tokens; keep only those.
    logits = model(input_ids=torch.tensor([ids]), logits_to_keep=len(targets) + 1).logits[0, :-1]
    return torch.nn.functional.cross_entropy(logits.float(), targets, reduction="sum").item(), len(targets)


def compare_heldout(
    models: Mapping[str, str | Path],
    datasets: Mapping[str, TrainTestSplit],
    max_samples: int | None = 50,
    max_length: int = 256,
    seed: int = 0,
    torch_threads: int | None = None,
) -> dict[str, Any]:
    """`heldout_loss` of every model (e.g. base, sft, dpo; the first is the baseline) on the test split of
    every dataset, with the same seeded samples for all models.

    Returns {"results": {dataset: {model: figures}}, "summary": {"<dataset>_<model>_loss": loss},
    "improved": every later model beats the baseline on every dataset scored}. A dataset with no test
    samples (or none that fit `max_length`) is skipped with a log line; `max_samples` 0 scores nothing.
    """
    results: dict[str, dict[str, Any]] = {}
    if max_samples != 0:
        for dataset_name, split in datasets.items():
            if not split.num_samples("test"):
                logger.info("No held-out {} samples: skipped", dataset_name)
                continue
            try:
                results[dataset_name] = {
                    model_name: heldout_loss(path, split, max_samples, max_length, seed, "test", torch_threads)
                    for model_name, path in models.items()
                }
            except TrainingDataError as error:
                logger.info("Held-out {} skipped: {}", dataset_name, error)
    summary = {
        f"{dataset_name}_{model_name}_loss": figures["loss"]
        for dataset_name, by_model in results.items()
        for model_name, figures in by_model.items()
    }
    baseline = next(iter(models), None)
    improved = bool(results) and all(
        figures["loss"] < by_model[baseline]["loss"]
        for by_model in results.values()
        for model_name, figures in by_model.items()
        if model_name != baseline
    )
    return {"results": results, "summary": summary, "improved": improved}


def _prompt_answer_pairs(
    split: TrainTestSplit,
    tokenizer: Any,
    name: Literal["train", "test"],
    max_length: int,
    max_samples: int | None,
    seed: int,
) -> list[tuple[str, str]]:
    if DatasetType(split.dataset_type) == DatasetType.INSTRUCTION:
        selection = sft_selection(split, tokenizer, name, max_length, max_samples, seed)
        rows = [instruct_row(sample, tokenizer.eos_token) for sample in selection.samples]
        return [(row["prompt"], row["completion"]) for row in rows]
    selection = dpo_selection(split, tokenizer, name, max_length, None, max_samples, seed)
    rows = [preference_row(sample, tokenizer.eos_token) for sample in selection.samples]
    return [(row["prompt"], row["chosen"]) for row in rows]


def _common_prefix(first: list[int], second: list[int]) -> int:
    length = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        length += 1
    return length
