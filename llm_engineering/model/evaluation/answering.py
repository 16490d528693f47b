"""One model's answers to the evaluation samples, as the `generate_model_answers` step runs it: the model
`source` names is resolved, a local folder answers through transformers or vLLM, and an endpoint (or a
source with no folder) through an OpenAI-compatible client built for that model id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.application.llm.client import LLMClient
from llm_engineering.model.evaluation.generation import BackendChoice, GenerationRun, SamplingConfig, generate_answers
from llm_engineering.model.evaluation.model_evaluation import ModelUnderTest, ResolvedModel, resolve_model
from llm_engineering.model.registry import ModelRegistry

# (model id or None for the configured one) -> the client of the OpenAI-compatible endpoint serving it
EndpointClientFactory = Callable[[str | None], LLMClient]


@dataclass(frozen=True)
class ModelAnswers:
    """The resolved model and its generation run."""

    model: ResolvedModel
    run: GenerationRun

    def metadata(self) -> dict[str, Any]:
        """What the step logs: model, source, backend, answers, failures and seconds."""
        return {
            "model": self.model.name,
            "source": self.model.description,
            "backend": self.run.backend,
            "answers": len(self.run.answers),
            "failures": self.run.failures,
            "seconds": round(self.run.seconds, 1),
        }


def answer_samples(
    instructions: Sequence[str],
    model: ModelUnderTest,
    sampling: SamplingConfig,
    *,
    registry: ModelRegistry,
    base_model_dir: Path,
    endpoint_client: EndpointClientFactory,
    backend: BackendChoice = "auto",
    torch_threads: int | None = None,
    generate: Callable[..., GenerationRun] = generate_answers,
) -> ModelAnswers:
    """Answer `instructions` with the model `model.source` names (see `resolve_model`).

    An endpoint source (or any source without a local folder) is answered through
    `endpoint_client(model id or None)` with the `openai` backend, whatever `backend` says; a local folder
    with `backend` (`auto`: vLLM on a GPU, else transformers). `generate` is `generate_answers` outside tests.
    """
    resolved = resolve_model(model, registry, base_model_dir)
    llm = None
    if resolved.endpoint_model_id is not None or resolved.model_dir is None:
        llm = endpoint_client(resolved.endpoint_model_id)
        backend = "openai"
    run = generate(
        list(instructions),
        model=resolved.model_dir or llm.model_id,  # type: ignore[union-attr]
        backend=backend,
        sampling=sampling,
        llm=llm,
        name=resolved.name,
        torch_threads=torch_threads,
    )
    logger.info("{} ({}): {} answers, {} failed", resolved.name, resolved.description, len(run.answers), run.failures)
    return ModelAnswers(model=resolved, run=run)
