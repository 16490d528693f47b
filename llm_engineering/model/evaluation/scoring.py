"""Every metric of one model's answers, as the `score_model_answers` step runs it: the offline metrics
always, the held-out loss when the model is a local folder, and the judge's accuracy and style when a judge
is configured (`auto`), demanded (`required`) or not at all (`off`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from loguru import logger

from llm_engineering.application.evaluation.judge import LLMJudge
from llm_engineering.application.ports import Embedder
from llm_engineering.model.errors import EvaluationError
from llm_engineering.model.evaluation import model_evaluation as evaluation
from llm_engineering.model.evaluation.generation import GenerationRun
from llm_engineering.model.evaluation.model_evaluation import EvaluationSample, ModelUnderTest
from llm_engineering.model.evaluation.offline_metrics import build_style_profile
from llm_engineering.model.evaluation.report import MetricScores, ModelScores
from llm_engineering.model.registry import ModelRegistry

JudgeMode = Literal["auto", "off", "required"]
# (model folder, samples, torch threads) -> the per-sample held-out loss
HeldoutScorer = Callable[[str, Sequence[EvaluationSample], int | None], MetricScores]


@dataclass(frozen=True)
class ScoredModel:
    """The model's scores and what the step logs: the model, each metric's mean and the judge's counts."""

    scores: ModelScores
    metadata: dict[str, Any]


def score_answers(
    samples: Sequence[EvaluationSample],
    author_texts: Sequence[str],
    answers: GenerationRun,
    model: ModelUnderTest,
    *,
    embedder: Embedder,
    registry: ModelRegistry,
    base_model_dir: Path,
    judge: Callable[[], LLMJudge | None],
    judge_mode: JudgeMode = "auto",
    heldout: bool = True,
    torch_threads: int | None = None,
    heldout_scorer: HeldoutScorer = evaluation.heldout_scores,
) -> ScoredModel:
    """Score `answers` to `samples`; `judge()` is asked for the configured judge unless `judge_mode` is `off`.

    Raises EvaluationError when `judge_mode` is `required` and `judge()` returns None.
    """
    texts = answers.answers_text()
    metrics = evaluation.offline_scores(texts, samples, embedder, build_style_profile(embedder, author_texts))
    resolved = evaluation.resolve_model(model, registry, base_model_dir)
    if heldout and resolved.model_dir is not None:
        metrics.append(heldout_scorer(resolved.model_dir, samples, torch_threads))
    judge_counts: dict[str, Any] = {"judge": "off"}
    llm_judge = judge() if judge_mode != "off" else None
    if judge_mode == "required" and llm_judge is None:
        raise EvaluationError("judge: required, but no judge is configured: set EVALUATION_JUDGE_BASE_URL.")
    if llm_judge is not None:
        judged, judge_counts = evaluation.judge_scores(llm_judge, texts, samples)
        metrics.extend(judged)
    means = metric_means(metrics)
    logger.info("{}: {}", resolved.name, means)
    metadata = {"model": resolved.name, "means": means, **_flat(judge_counts)}
    return ScoredModel(scores=evaluation.model_scores(resolved.name, metrics), metadata=metadata)


def metric_means(metrics: Sequence[MetricScores]) -> dict[str, float]:
    """Each metric's mean over the samples it has a value for (rounded to 4 places); metrics with none left out."""
    return {
        metric.metric: round(sum(v for v in metric.values if v is not None) / n, 4)
        for metric in metrics
        if (n := sum(v is not None for v in metric.values))
    }


def _flat(counts: dict[str, Any]) -> dict[str, Any]:
    """Judge counts without None values (ZenML metadata refuses them)."""
    return {f"judge_{key}" if key != "judge" else key: value for key, value in counts.items() if value is not None}
