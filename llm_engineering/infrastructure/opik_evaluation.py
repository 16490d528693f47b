"""Model evaluations logged to Opik as a dataset (the held-out samples) and one experiment per model (its
answers with every metric as feedback scores), when Opik is configured; a no-op otherwise.

The scores are computed by the evaluating pipeline; Opik's `evaluate` only records them, through a metric
that looks each sample's precomputed value up. A sample a model failed is logged as a failed score, never
as a number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loguru import logger

from llm_engineering.infrastructure.opik_tracing import opik_enabled

DATASET_PREFIX = "llm-twin-evaluation"


def log_model_evaluation(
    run_name: str,
    samples: Sequence[Mapping[str, Any]],
    answers: Mapping[str, Sequence[str | None]],
    scores: Mapping[str, Mapping[str, Sequence[float | None]]],
) -> dict[str, str]:
    """Log `samples` ({instruction, reference, category}) as the Opik dataset `llm-twin-evaluation-<run>`
    and, per model, its `answers` and `scores` (metric -> values aligned with the samples) as the experiment
    `<run>-<model>`. Returns model -> experiment name ({} when Opik is off or the logging failed: monitoring
    never fails an evaluation)."""
    if not opik_enabled():
        return {}
    try:
        return _log(run_name, samples, answers, scores)
    except Exception as error:  # noqa: BLE001 - an unreachable Opik must not fail the pipeline
        logger.warning("Could not log the evaluation to Opik: {}", error)
        return {}


def _log(
    run_name: str,
    samples: Sequence[Mapping[str, Any]],
    answers: Mapping[str, Sequence[str | None]],
    scores: Mapping[str, Mapping[str, Sequence[float | None]]],
) -> dict[str, str]:
    import opik
    from opik.evaluation import evaluate

    client = opik.Opik()
    dataset = client.get_or_create_dataset(
        name=f"{DATASET_PREFIX}-{run_name}", description="Held-out instructions of an LLM Twin evaluation run"
    )
    dataset.insert([{**dict(sample), "sample_index": index} for index, sample in enumerate(samples)])
    experiments = {}
    for model, model_answers in answers.items():

        def task(item: dict[str, Any], model_answers: Sequence[str | None] = model_answers) -> dict[str, Any]:
            answer = model_answers[int(item["sample_index"])]
            return {"output": answer if answer is not None else "", "answered": answer is not None}

        metrics = [_precomputed_metric(name, values) for name, values in scores.get(model, {}).items()]
        name = f"{run_name}-{model}"
        evaluate(
            dataset=dataset,
            task=task,
            scoring_metrics=metrics,
            experiment_name=name,
            experiment_config={"model": model, "run": run_name},
            verbose=0,
            task_threads=4,
        )
        experiments[model] = name
    logger.info("Logged the evaluation to Opik: dataset {}-{}, experiments {}", DATASET_PREFIX, run_name, experiments)
    return experiments


def _precomputed_metric(name: str, values: Sequence[float | None]) -> Any:
    """An Opik metric returning the pipeline's value for the item's sample (a failed score where None)."""
    from opik.evaluation.metrics import base_metric, score_result

    class PrecomputedMetric(base_metric.BaseMetric):
        def score(self, sample_index: int, **_: Any) -> score_result.ScoreResult:
            value = values[int(sample_index)]
            if value is None:
                return score_result.ScoreResult(name=name, value=0.0, reason="not scored", scoring_failed=True)
            return score_result.ScoreResult(name=name, value=float(value))

    return PrecomputedMetric(name=name, track=False)
