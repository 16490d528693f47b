"""Step (opt-in): remove features of documents deleted from the warehouse."""

from __future__ import annotations

from typing import Annotated, Any

from loguru import logger
from zenml import log_metadata, step


@step(enable_cache=False)
def prune_vector_db(author_full_names: list[str] | None = None) -> Annotated[dict[str, Any], "pruned"]:
    """Delete cleaned documents and chunks of these authors (all when none is named) whose document is gone.

    The warehouse is listed afresh; if a collection cannot be read the step fails and nothing is deleted.
    Returns (and logs as metadata) the number of points removed per collection.
    """
    from llm_engineering import bootstrap
    from llm_engineering.application.preprocessing.feature_engineering import prune_deleted_features

    container = bootstrap.container()
    report = prune_deleted_features(container.documents(), container.vector_index(), author_full_names)
    logger.info("Pruned {} points of deleted documents.", report.total)
    summary = {"num_points_removed": report.total, **report.removed}
    log_metadata(metadata=summary, infer_artifact=True)
    return summary
