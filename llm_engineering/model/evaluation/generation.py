"""Answers to a test split's instructions from one model under test, the first half of the book's evaluation.

Three backends: vLLM offline batches on a GPU (when vLLM is installed), transformers batched generation
from a local model folder (CPU), or any OpenAI-compatible endpoint through the `LLMClient` port. All use the
book's sampling (temperature 0.8, top_p 0.95, min_p 0.05, up to 2048 new tokens) from a `SamplingConfig`
and the project's one instruction layout. A `GenerationRun` holds the answers in input order, failures as
errors (never made-up text), and serialises whole as the pipeline's artifact.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Literal

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application.errors import LLMError
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters, LLMClient
from llm_engineering.domain.prompts import STOP_SEQUENCES
from llm_engineering.model.errors import GenerationError
from llm_engineering.model.evaluation import local_generation
from llm_engineering.model.evaluation.local_generation import LocalGeneration, cut_at_stop_sequences
from llm_engineering.model.finetuning import backends

BackendName = Literal["transformers", "vllm", "openai"]
BackendChoice = Literal["auto", "transformers", "vllm", "openai"]

__all__ = [
    "BackendChoice",
    "BackendName",
    "GeneratedAnswer",
    "GenerationRun",
    "SamplingConfig",
    "choose_backend",
    "cut_at_stop_sequences",
    "generate_answers",
]


class SamplingConfig(BaseModel):
    """Sampling of the answers (the book's values by default). Temperature 0 means greedy decoding."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(default=0.8, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    min_p: float = Field(default=0.05, ge=0.0, lt=1.0)
    max_new_tokens: int = Field(default=2048, ge=1)
    seed: int = Field(default=0, ge=0)
    batch_size: int = Field(default=8, ge=1)


class GeneratedAnswer(BaseModel):
    """One instruction's answer, or the error that prevented it (then `answer` is None)."""

    index: int = Field(ge=0)
    instruction: str
    answer: str | None = None
    error: str | None = None
    new_tokens: int | None = Field(default=None, ge=0)


class GenerationRun(BaseModel):
    """Every answer of one model, in input order, with how and how fast they were produced.

    `seconds` is the whole run (model loading included); `tokens_per_second` counts generated tokens over
    the generation time alone, None when the backend reported no token counts.
    """

    model: str
    source: str
    backend: BackendName
    sampling: SamplingConfig
    answers: list[GeneratedAnswer]
    seconds: float = Field(ge=0)
    tokens_per_second: float | None = None

    @property
    def failures(self) -> int:
        return sum(answer.answer is None for answer in self.answers)

    def answers_text(self) -> list[str | None]:
        """The answer texts aligned with the instructions, None where generation failed."""
        return [answer.answer for answer in self.answers]


def choose_backend(model: str, backend: BackendChoice, llm: LLMClient | None) -> BackendName:
    """The backend that will run: `backend` itself when it can run here, or for `auto`: a local model folder
    goes to vLLM when it imports and CUDA is available, else to transformers; any other name goes to the
    endpoint when an `llm` client is given, else to vLLM (a hub id) on a GPU. Raises GenerationError."""
    local = Path(model).is_dir()
    if backend == "transformers" and not local:
        raise GenerationError(f"backend 'transformers' needs a local model folder; {model} is not one.")
    if backend == "vllm" and not local_generation.vllm_importable():
        raise GenerationError("backend 'vllm' is configured but `import vllm` fails; use 'transformers' or 'auto'.")
    if backend == "openai" and llm is None:
        raise GenerationError("backend 'openai' needs an LLM client for the OpenAI-compatible endpoint.")
    if backend != "auto":
        return backend
    # vLLM first: it is much faster than transformers for batch generation, but only runs on a GPU.
    gpu_vllm = local_generation.vllm_importable() and backends.cuda_available()
    if local:
        return "vllm" if gpu_vllm else "transformers"
    if llm is not None:
        return "openai"
    if gpu_vllm:
        return "vllm"
    raise GenerationError(
        f"No backend can generate with {model}: it is not a local model folder, no endpoint client was given, "
        "and vLLM with a CUDA GPU is not available."
    )


def generate_answers(
    instructions: Sequence[str],
    model: str,
    backend: BackendChoice,
    sampling: SamplingConfig,
    *,
    llm: LLMClient | None = None,
    name: str | None = None,
    max_workers: int = 4,
    torch_threads: int | None = None,
    progress: bool = True,
) -> GenerationRun:
    """Answer every instruction with one model.

    `model` is a local model folder (transformers, vLLM), a hub id (vLLM) or the endpoint's model id
    (openai); `name` labels the run (default: `model`). The endpoint path sends `max_workers` requests at
    a time; `torch_threads` sets transformers' CPU threads (None: torch's default). Raises GenerationError
    for no instructions, a blank one, or no backend that can run; a failed endpoint call becomes an answer
    with `error` set instead.
    """
    if not instructions:
        raise GenerationError("No instructions to answer.")
    blank = [index for index, text in enumerate(instructions) if not text.strip()]
    if blank:
        raise GenerationError(f"Instructions {blank[:10]} are empty.")
    if max_workers < 1:
        raise GenerationError("max_workers must be at least 1.")
    chosen = choose_backend(model, backend, llm)
    logger.info("Generating {} answers with {} via {} ({})", len(instructions), model, chosen, sampling)
    started = time.perf_counter()
    if chosen == "openai" and llm is not None:  # choose_backend only picks openai with a client
        answers, generation_seconds = _endpoint_answers(instructions, llm, sampling, max_workers, progress)
        source = llm.endpoint
    else:
        local = (
            local_generation.vllm_completions(model, instructions, sampling, progress)
            if chosen == "vllm"
            else local_generation.transformers_completions(model, instructions, sampling, torch_threads, progress)
        )
        answers, generation_seconds = _local_answers(instructions, local), local.seconds
        source = model
    counted = [answer.new_tokens for answer in answers if answer.new_tokens is not None]
    run = GenerationRun(
        model=name or model,
        source=source,
        backend=chosen,
        sampling=sampling,
        answers=answers,
        seconds=time.perf_counter() - started,
        tokens_per_second=sum(counted) / generation_seconds if counted and generation_seconds > 0 else None,
    )
    logger.info("{}: {} answers, {} failed, {:.1f}s", run.model, len(answers), run.failures, run.seconds)
    return run


def _local_answers(instructions: Sequence[str], local: LocalGeneration) -> list[GeneratedAnswer]:
    if len(local.completions) != len(instructions):
        raise GenerationError(f"{len(local.completions)} completions came back for {len(instructions)} instructions.")
    return [
        GeneratedAnswer(index=index, instruction=instruction, answer=completion.text, new_tokens=completion.new_tokens)
        for index, (instruction, completion) in enumerate(zip(instructions, local.completions, strict=True))
    ]


def _endpoint_answers(
    instructions: Sequence[str], llm: LLMClient, sampling: SamplingConfig, max_workers: int, progress: bool
) -> tuple[list[GeneratedAnswer], float]:
    """Each instruction as one user message: the served chat template lays it out as training did.

    `GenerationParameters` carries temperature, top_p, the token limit and the stop sequences; min_p and the
    seed have no field there, so they are whatever the server applies (OpenAI's API has no min_p at all).
    """
    from tqdm.auto import tqdm

    parameters = GenerationParameters(
        max_new_tokens=sampling.max_new_tokens,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        stop=STOP_SEQUENCES,
    )

    def ask(index: int) -> GeneratedAnswer:
        instruction = instructions[index]
        try:
            response = llm.chat([ChatMessage("user", instruction)], parameters)
        except LLMError as error:
            logger.warning("Answer {} from {} failed: {}", index, llm.endpoint, error)
            return GeneratedAnswer(index=index, instruction=instruction, error=f"{type(error).__name__}: {error}")
        return GeneratedAnswer(
            index=index,
            instruction=instruction,
            answer=cut_at_stop_sequences(response.text),
            new_tokens=response.completion_tokens,
        )

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [pool.submit(ask, index) for index in range(len(instructions))]
        for _ in tqdm(
            as_completed(futures), total=len(futures), desc=f"Answers from {llm.model_id}", disable=not progress
        ):
            pass
    # Futures were created in input order, so reading them back keeps it whatever order they finished in.
    return [future.result() for future in futures], time.perf_counter() - started
