"""Step: upsert cleaned documents or embedded chunks into their Qdrant collections."""

from __future__ import annotations

from typing import Annotated, Any

from loguru import logger
from zenml import log_metadata, step


@step(enable_cache=False)
def load_to_vector_db(documents: list, batch_size: int = 256) -> Annotated[dict[str, Any], "loaded"]:
    """Load `documents` in batches of whole documents (about `batch_size` points each).

    A failed batch is recorded and the others still load. Returns (and logs as metadata) the load
    report: points written, stale chunks removed, failed batches per collection, and `successful`.
    """
    from llm_engineering import bootstrap
    from llm_engineering.application.preprocessing.feature_store import load_documents

    report = load_documents(bootstrap.container().vector_index(), documents, batch_size=batch_size)
    summary = {"successful": report.failed_batches == 0, "num_documents": len(documents), **report.as_metadata()}
    if report.failed_batches:
        logger.error("{} batches failed to load; see the step metadata.", report.failed_batches)
    logger.info("Loaded {} points into {}.", report.points_written, ", ".join(report.collections) or "nothing")
    log_metadata(metadata=summary, infer_artifact=True)
    return summary
