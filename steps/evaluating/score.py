"""Step: every metric of one model's answers: offline metrics always, held-out loss for local models, the
judge's accuracy and style when a judge is configured."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from loguru import logger
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
    from llm_engineering.model.errors import EvaluationError
    from llm_engineering.model.evaluation import model_evaluation as evaluation
    from llm_engineering.model.evaluation.offline_metrics import build_style_profile

    container = bootstrap.container()
    embedder = container.embedder()
    texts = answers.answers_text()
    metrics = evaluation.offline_scores(
        texts, samples.samples, embedder, build_style_profile(embedder, samples.author_texts)
    )
    resolved = evaluation.resolve_model(
        evaluation.ModelUnderTest.model_validate(model),
        bootstrap.build_model_registry(container.settings),
        bootstrap.training_base_model_dir(container.settings),
    )
    if heldout and resolved.model_dir is not None:
        metrics.append(evaluation.heldout_scores(resolved.model_dir, samples.samples, torch_threads))
    judge_counts: dict[str, Any] = {"judge": "off"}
    llm_judge = bootstrap.build_evaluation_judge(container.settings) if judge != "off" else None
    if judge == "required" and llm_judge is None:
        raise EvaluationError("judge: required, but no judge is configured: set EVALUATION_JUDGE_BASE_URL.")
    if llm_judge is not None:
        judged, judge_counts = evaluation.judge_scores(llm_judge, texts, samples.samples)
        metrics.extend(judged)
    scores = evaluation.model_scores(resolved.name, metrics)
    means = {
        metric.metric: round(sum(v for v in metric.values if v is not None) / n, 4)
        for metric in metrics
        if (n := sum(v is not None for v in metric.values))
    }
    logger.info("{}: {}", resolved.name, means)
    log_metadata(metadata={"model": resolved.name, "means": means, **_flat(judge_counts)}, infer_artifact=True)
    return scores


def _flat(counts: dict[str, Any]) -> dict[str, Any]:
    """Judge counts without None values (ZenML metadata refuses them)."""
    return {f"judge_{key}" if key != "judge" else key: value for key, value in counts.items() if value is not None}
