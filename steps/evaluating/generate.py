"""Step: one model's answers to the evaluation samples (vLLM on a GPU, transformers on CPU, or the
configured OpenAI-compatible endpoint)."""

from __future__ import annotations

from typing import Annotated, Any

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.model.evaluation.generation import GenerationRun
from steps.evaluating.samples import EvaluationSamples


@step
def generate_model_answers(
    samples: EvaluationSamples,
    model: dict[str, Any],
    sampling: dict[str, Any],
    backend: str = "auto",
    torch_threads: int | None = None,
) -> Annotated[GenerationRun, "model_answers"]:
    """`model` is {name, source} (see `model_evaluation.resolve_model`); `sampling` a `SamplingConfig`."""
    from llm_engineering import bootstrap
    from llm_engineering.model.evaluation.generation import SamplingConfig, generate_answers
    from llm_engineering.model.evaluation.model_evaluation import ModelUnderTest, resolve_model

    settings = bootstrap.container().settings
    resolved = resolve_model(
        ModelUnderTest.model_validate(model),
        bootstrap.build_model_registry(settings),
        bootstrap.training_base_model_dir(settings),
    )
    llm = None
    if resolved.endpoint_model_id is not None or resolved.model_dir is None:
        llm = bootstrap.build_llm_client(
            settings.model_copy(update={"LLM_MODEL_ID": resolved.endpoint_model_id or settings.LLM_MODEL_ID})
        )
        backend = "openai"
    run = generate_answers(
        [sample.instruction for sample in samples.samples],
        model=resolved.model_dir or llm.model_id,  # type: ignore[union-attr]
        backend=backend,  # type: ignore[arg-type]
        sampling=SamplingConfig.model_validate(sampling),
        llm=llm,
        name=resolved.name,
        torch_threads=torch_threads,
    )
    logger.info("{} ({}): {} answers, {} failed", resolved.name, resolved.description, len(run.answers), run.failures)
    log_metadata(
        metadata={
            "model": resolved.name,
            "source": resolved.description,
            "backend": run.backend,
            "answers": len(run.answers),
            "failures": run.failures,
            "seconds": round(run.seconds, 1),
        },
        infer_artifact=True,
    )
    return run
