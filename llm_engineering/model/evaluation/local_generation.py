"""In-process answer generation for `generation.generate_answers`: vLLM offline batches on a GPU, or
transformers batched `generate` (CPU, or a GPU without vLLM).

Both tokenize the training prompt layout (`format_instruction_prompt`) with the tokenizer's special tokens,
as training does, so a model that learned with BOS gets BOS here too. Heavy libraries (torch, transformers,
vllm) are imported inside the functions.
"""

from __future__ import annotations

import gc
import importlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from loguru import logger

from llm_engineering.domain.prompts import STOP_SEQUENCES, format_instruction_prompt
from llm_engineering.model.errors import GenerationError
from llm_engineering.model.finetuning import backends

if TYPE_CHECKING:
    from llm_engineering.model.evaluation.generation import SamplingConfig


class Completion(NamedTuple):
    """One generated answer (cut at the first stop sequence, stripped) and how many tokens it took."""

    text: str
    new_tokens: int


@dataclass(frozen=True)
class LocalGeneration:
    """Completions in prompt order, and the seconds spent generating them (model loading excluded)."""

    completions: list[Completion]
    seconds: float


def cut_at_stop_sequences(text: str, stops: Sequence[str] = STOP_SEQUENCES) -> str:
    """`text` up to the first of `stops`, stripped: a base model runs on into a new instruction block."""
    cuts = [index for stop in stops if stop and (index := text.find(stop)) >= 0]
    return (text[: min(cuts)] if cuts else text).strip()


def vllm_importable() -> bool:
    """True when `import vllm` works (it needs a CUDA build and its own pinned stack)."""
    try:
        importlib.import_module("vllm")
    except Exception as error:  # noqa: BLE001 - a broken vllm install raises assorted errors at import
        if not isinstance(error, ModuleNotFoundError):
            logger.info("vLLM is installed but cannot be imported ({})", error)
        return False
    return True


def vllm_completions(
    model: str, instructions: Sequence[str], sampling: SamplingConfig, progress: bool
) -> LocalGeneration:
    """One offline vLLM batch over every prompt (vLLM schedules the batching itself; outputs keep input order).

    vLLM excludes stop strings from the text and encodes text prompts with special tokens, as training did.
    """
    import vllm

    params = vllm.SamplingParams(
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        min_p=sampling.min_p,
        max_tokens=sampling.max_new_tokens,
        seed=sampling.seed,
        stop=list(STOP_SEQUENCES),
    )
    engine = vllm.LLM(model=model, seed=sampling.seed)
    try:
        started = time.perf_counter()
        outputs = engine.generate([format_instruction_prompt(text) for text in instructions], params, use_tqdm=progress)
        seconds = time.perf_counter() - started
    finally:
        # gc alone leaves the engine's GPU memory held; the next model under test needs it.
        del engine
        gc.collect()
        _empty_cuda_cache()
    completions = [
        Completion(cut_at_stop_sequences(output.outputs[0].text), len(output.outputs[0].token_ids))
        for output in outputs
    ]
    return LocalGeneration(completions, seconds)


def transformers_completions(
    model_dir: str,
    instructions: Sequence[str],
    sampling: SamplingConfig,
    torch_threads: int | None,
    progress: bool,
) -> LocalGeneration:
    """Batched sampling with transformers from the model saved in `model_dir`: `sampling.batch_size` prompts
    per `generate` call, left padded, seeded once with `sampling.seed` (same seed, batch size and machine:
    same answers); each answer ends at EOS or a stop sequence. `torch_threads` CPU threads (None: torch's)."""
    if not Path(model_dir).is_dir():  # checked before the slow imports
        raise GenerationError(f"The model folder {model_dir} does not exist.")
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    cuda = torch.cuda.is_available()
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto" if cuda else torch.float32)
    except (OSError, ValueError) as error:
        raise GenerationError(f"Cannot load the model in {model_dir}: {error}") from error
    model.to("cuda" if cuda else "cpu").eval()
    # Decoder-only models continue the last position, so padding must sit before the prompt.
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    eos_ids = _eos_ids(model, tokenizer)
    options = _generate_options(sampling, tokenizer, eos_ids)
    prompts = [format_instruction_prompt(text) for text in instructions]
    batches = [prompts[start : start + sampling.batch_size] for start in range(0, len(prompts), sampling.batch_size)]

    completions: list[Completion] = []
    set_seed(sampling.seed)
    started = time.perf_counter()
    with backends.torch_threads(torch_threads), torch.inference_mode():
        for batch in tqdm(batches, desc=f"Answers from {Path(model_dir).name}", unit="batch", disable=not progress):
            # Default special tokens, exactly as training tokenized the same prompt text.
            encoded = tokenizer(batch, return_tensors="pt", padding=True, return_token_type_ids=False).to(model.device)
            output = model.generate(**encoded, **options)
            for row in output[:, encoded["input_ids"].shape[1] :].tolist():
                ids = _generated_ids(row, eos_ids, tokenizer.pad_token_id)
                text = tokenizer.decode(ids, skip_special_tokens=True)
                completions.append(Completion(cut_at_stop_sequences(text), len(ids)))
    seconds = time.perf_counter() - started
    del model
    gc.collect()
    return LocalGeneration(completions, seconds)


def _generate_options(sampling: SamplingConfig, tokenizer: Any, eos_ids: set[int]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "max_new_tokens": sampling.max_new_tokens,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": sorted(eos_ids),
        # Stops a row early once it starts a new instruction block; the text is cut there afterwards.
        "stop_strings": list(STOP_SEQUENCES),
        "tokenizer": tokenizer,
    }
    if sampling.temperature == 0:
        return options | {"do_sample": False}
    # top_k 0: transformers would otherwise apply its default top-k of 50, which vLLM and the book do not.
    return options | {
        "do_sample": True,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "min_p": sampling.min_p or None,
        "top_k": 0,
    }


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    """Every id that ends an answer: the tokenizer's EOS and the model's generation EOS (one id or a list)."""
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids = set(configured if isinstance(configured, list) else [configured])
    ids.add(tokenizer.eos_token_id)
    ids.discard(None)
    if not ids:
        raise GenerationError("The model has no end-of-sequence token: answers would never end.")
    return ids


def _generated_ids(row: list[int], eos_ids: set[int], pad_id: int | None) -> list[int]:
    """The tokens a row actually generated: up to and including its first EOS, else without the padding that
    `generate` appends once a row stopped at a stop string while others went on."""
    for position, token in enumerate(row):
        if token in eos_ids:
            return row[: position + 1]
    end = len(row)
    while end and row[end - 1] == pad_id:
        end -= 1
    return row[:end]


def _empty_cuda_cache() -> None:
    # vLLM runs on torch, so torch is loaded whenever there is GPU memory to give back.
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
