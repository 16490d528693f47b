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

    settings = bootstrap.container().settings

    def endpoint_client(model_id: str | None):
        """The configured endpoint's client, for `model_id` when one is named."""
        return bootstrap.build_llm_client(
            settings.model_copy(update={"LLM_MODEL_ID": model_id or settings.LLM_MODEL_ID})
        )

    answered = answer_samples(
        [sample.instruction for sample in samples.samples],
        ModelUnderTest.model_validate(model),
        SamplingConfig.model_validate(sampling),
        registry=bootstrap.build_model_registry(settings),
        base_model_dir=bootstrap.training_base_model_dir(settings),
        endpoint_client=endpoint_client,
        backend=backend,  # type: ignore[arg-type]
        torch_threads=torch_threads,
    )
    log_metadata(metadata=answered.metadata(), infer_artifact=True)
    return answered.run
