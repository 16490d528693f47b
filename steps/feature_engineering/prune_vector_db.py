"""Step (opt-in): remove features of documents deleted from the warehouse."""

from __future__ import annotations

from typing import Annotated, Any

from loguru import logger
from zenml import log_metadata, step


@step(enable_cache=False)
def prune_vector_db(author_full_names: list[str], raw_documents: list) -> Annotated[dict[str, Any], "pruned"]:
    """Delete cleaned documents and chunks of these authors whose document is not in `raw_documents`."""
    from llm_engineering import bootstrap
    from llm_engineering.application.feature_engineering import find_author
    from llm_engineering.application.feature_store import prune_deleted_documents

    bootstrap.configure()
    author_ids = [author.id for name in author_full_names if (author := find_author(name)) is not None]
    report = prune_deleted_documents([document.id for document in raw_documents], author_ids)
    logger.info("Pruned {} points of deleted documents.", report.total)
    summary = {"num_points_removed": report.total, **report.removed}
    log_metadata(metadata=summary, infer_artifact=True)
    return summary
