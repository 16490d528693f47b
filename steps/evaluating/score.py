"""Step: every metric of one model's answers: offline metrics always, held-out loss for local models, the
judge's accuracy and style when a judge is configured."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from zenml import log_metadata, step

from llm_engineering.model.evaluation.generation import GenerationRun
from llm_engineering.model.evaluation.report import ModelScores
from steps.evaluating.samples import EvaluationSamples


@step
def score_model_answers(
    samples: EvaluationSamples,
    answers: GenerationRun,
    model: dict[str, Any],
    judge: Literal["auto", "off", "required"] = "auto",
    heldout: bool = True,
    torch_threads: int | None = None,
) -> Annotated[ModelScores, "model_scores"]:
    """`judge`: `auto` uses EVALUATION_JUDGE_BASE_URL when set, `required` fails without it, `off` skips it."""
    from llm_engineering import bootstrap
    from llm_engineering.model.evaluation.model_evaluation import ModelUnderTest
    from llm_engineering.model.evaluation.scoring import score_answers

    container = bootstrap.container()
    scored = score_answers(
        samples.samples,
        samples.author_texts,
        answers,
        ModelUnderTest.model_validate(model),
        embedder=container.embedder(),
        registry=container.model_registry(),
        base_model_dir=container.training_base_model_dir(),
        judge=container.evaluation_judge,
        judge_mode=judge,
        heldout=heldout,
        torch_threads=torch_threads,
    )
    log_metadata(metadata=scored.metadata, infer_artifact=True)
    return scored.scores
