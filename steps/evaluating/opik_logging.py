"""Step: the evaluation run logged to Opik (a dataset of the samples, an experiment per model) when Opik is
configured; a no-op otherwise."""

from __future__ import annotations

from typing import Annotated

from zenml import get_step_context, log_metadata, step

from llm_engineering.model.evaluation.generation import GenerationRun
from llm_engineering.model.evaluation.report import ModelScores
from steps.evaluating.samples import EvaluationSamples


@step
def log_evaluation_to_opik(
    samples: EvaluationSamples, answers: list[GenerationRun], scores: list[ModelScores]
) -> Annotated[dict, "opik_experiments"]:
    from llm_engineering import bootstrap

    experiments = bootstrap.log_model_evaluation_to_opik(
        get_step_context().pipeline_run.name,
        [sample.model_dump(include={"instruction", "reference", "category"}) for sample in samples.samples],
        {model.model: run.answers_text() for model, run in zip(scores, answers, strict=True)},
        {model.model: {metric.metric: metric.values for metric in model.metrics} for model in scores},
    )
    log_metadata(
        metadata={"opik": "logged" if experiments else "off", "experiments": len(experiments)}, infer_artifact=True
    )
    return experiments
