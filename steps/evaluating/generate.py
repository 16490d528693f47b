"""Step: one model's answers to the evaluation samples (vLLM on a GPU, transformers on CPU, or the
configured OpenAI-compatible endpoint)."""

from __future__ import annotations

from typing import Annotated, Any

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
    from llm_engineering.model.evaluation.answering import answer_samples
    from llm_engineering.model.evaluation.generation import SamplingConfig
    from llm_engineering.model.evaluation.model_evaluation import ModelUnderTest

    container = bootstrap.container()
    answered = answer_samples(
        [sample.instruction for sample in samples.samples],
        ModelUnderTest.model_validate(model),
        SamplingConfig.model_validate(sampling),
        registry=container.model_registry(),
        base_model_dir=container.training_base_model_dir(),
        endpoint_client=container.llm_client_for,  # the configured endpoint, for the model named
        backend=backend,  # type: ignore[arg-type]
        torch_threads=torch_threads,
    )
    log_metadata(metadata=answered.metadata(), infer_artifact=True)
    return answered.run
