"""Step: the held-out questions every model answers (a seeded selection of the instruct test split)."""

from __future__ import annotations

from typing import Annotated

from loguru import logger
from pydantic import BaseModel
from zenml import log_metadata, step

from llm_engineering.domain.datasets import TrainTestSplit
from llm_engineering.model.evaluation.model_evaluation import EvaluationSample


class EvaluationSamples(BaseModel):
    """The samples of one evaluation run and the author's own texts its style metrics compare with."""

    samples: list[EvaluationSample]
    author_texts: list[str]


@step
def select_evaluation_samples(
    dataset: TrainTestSplit, max_samples: int | None = 16, seed: int = 0
) -> Annotated[EvaluationSamples, "evaluation_samples"]:
    """Up to `max_samples` test-split samples (None: all) and up to 400 train-split answers of the author."""
    from llm_engineering.model.evaluation.model_evaluation import author_texts, select_samples

    samples = select_samples(dataset, max_samples, seed)
    texts = author_texts(dataset)
    categories = sorted({sample.category for sample in samples})
    logger.info("Evaluating on {} samples ({}); style profile from {} texts", len(samples), categories, len(texts))
    log_metadata(
        metadata={"num_samples": len(samples), "categories": categories, "num_author_texts": len(texts)},
        infer_artifact=True,
    )
    return EvaluationSamples(samples=samples, author_texts=texts)
