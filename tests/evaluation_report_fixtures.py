"""Crafted evaluation and retrieval reports with known means, shared by the report, plot and materializer tests.

Six samples (articles, posts, repositories, two each) scored for three models; the means are easy to check
by hand and every model has at least one failed (None) judge score.
"""

from __future__ import annotations

from llm_engineering.model.evaluation.report import (
    EvaluationReport,
    MetricScores,
    ModelScores,
    build_model_report,
)
from llm_engineering.model.evaluation.retrieval_report import RetrievalReport

CATEGORIES = ["articles", "articles", "posts", "posts", "repositories", "repositories"]
JUDGE = "judge-llm-1"


def judge(metric: str, values: list[float | None]) -> MetricScores:
    return MetricScores(metric=metric, source="judge", higher_is_better=True, values=values, description="1-3 scale")


def offline(metric: str, values: list[float | None], higher_is_better: bool = True) -> MetricScores:
    return MetricScores(metric=metric, source="offline", higher_is_better=higher_is_better, values=values)


def crafted_models() -> list[ModelScores]:
    """base / sft / dpo; means: accuracy 2.0 / 2.4 / 2.8, heldout_loss 3.0 / 2.5 / 2.0, rouge_l 0.2 / 0.4 / 0.5."""
    return [
        ModelScores(
            model="base",
            metrics=[
                judge("accuracy", [1.0, 2.0, None, 3.0, 2.0, 2.0]),
                offline("heldout_loss", [3.0] * 6, higher_is_better=False),
                offline("rouge_l", [0.1, 0.3, 0.2, 0.2, 0.2, 0.2]),
            ],
        ),
        ModelScores(
            model="sft",
            metrics=[
                judge("accuracy", [2.0, 3.0, 2.0, None, 3.0, 2.0]),
                offline("heldout_loss", [2.5] * 6, higher_is_better=False),
                offline("rouge_l", [0.4] * 6),
            ],
        ),
        ModelScores(
            model="dpo",
            metrics=[
                judge("accuracy", [3.0, 3.0, 3.0, 2.0, 3.0, None]),
                offline("heldout_loss", [2.0] * 6, higher_is_better=False),
                offline("rouge_l", [0.5] * 6),
            ],
        ),
    ]


def crafted_report(**overrides: object) -> EvaluationReport:
    arguments: dict[str, object] = {
        "models": crafted_models(),
        "categories": CATEGORIES,
        "title": "LLM Twin: base vs SFT vs DPO",
        "judge_model": JUDGE,
        "notes": ["Test split of 6 samples."],
    }
    arguments.update(overrides)
    return build_model_report(**arguments)  # type: ignore[arg-type]


def crafted_retrieval_report() -> RetrievalReport:
    def scores(queries: int, recall: float) -> dict[str, float]:
        return {"queries": queries, "recall": recall, "mrr": 0.5, "ndcg": 0.6, "context_precision": 0.25}

    return RetrievalReport(
        title="RAG retrieval: hybrid search",
        settings={"k": 5, "mrr_k": 10, "retriever": "hybrid", "rerank": False},
        overall=scores(4, 0.75),
        by_query_type={"question": scores(3, 1.0), "keywords": scores(1, 0.0)},
        by_category={"articles": scores(2, 0.5), "posts": scores(2, 1.0)},
        latency_p50_ms=12.5,
        latency_p95_ms=48.4,
        notes=["Labelled queries from the test split."],
    )
