"""Step: retrieval-aware training data. Every instruct and preference sample gets the numbered passages
`/rag` would give its instruction (the gold passage among distractors), and pairs are derived whose
rejected side is a reply the answer guard rejects (`application/datasets/raft.py`)."""

from __future__ import annotations

from typing import Annotated, Any

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.domain.datasets import TrainTestSplit
from steps.materializers import TrainTestSplitMaterializer


@step(output_materializers=TrainTestSplitMaterializer)
def retrieval_aware_datasets(
    instruct: TrainTestSplit, preference: TrainTestSplit, settings: dict[str, Any] | None = None
) -> tuple[
    Annotated[TrainTestSplit, "retrieval_aware_instruct_datasets"],
    Annotated[TrainTestSplit, "retrieval_aware_preference_datasets"],
]:
    """Both datasets with passages from the feature store (which must hold the author's features)."""
    from llm_engineering import bootstrap
    from llm_engineering.application.datasets.raft import RaftSettings, RetrievalAwareSamples

    builder = RetrievalAwareSamples(bootstrap.container().passage_search(), RaftSettings(**(settings or {})))
    instruct_out, instruct_report = builder.instruct(instruct)
    preference_out, preference_report = builder.preference(preference, instruct)
    logger.info(
        "Retrieval-aware datasets: instruct {}, preference {}",
        instruct_report.as_metadata(),
        preference_report.as_metadata(),
    )
    log_metadata(
        metadata={
            "instruct": instruct_report.as_metadata() | instruct_out.counts(),
            "preference": preference_report.as_metadata() | preference_out.counts(),
        }
    )
    return instruct_out, preference_out
