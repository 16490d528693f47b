"""Step: read the authors' cleaned documents from the feature store (Qdrant `cleaned_*` collections)."""

from __future__ import annotations

from typing import Annotated

from loguru import logger
from zenml import log_metadata, step


# Never cached: the feature store changes between runs while the inputs (author names) do not.
@step(enable_cache=False)
def query_feature_store(author_full_names: list[str] | None = None) -> Annotated[list, "cleaned_documents"]:
    """Cleaned articles, posts and repositories of the authors (every author when None or empty).

    Fails with a message naming the feature pipeline when the store has none. Metadata: `num_documents`,
    per category and author counts, `authors`, `missing_authors`.
    """
    from llm_engineering import bootstrap
    from llm_engineering.application.datasets.service import query_cleaned_documents
    from llm_engineering.application.preprocessing.feature_store import CLEANED_CLASSES

    index = bootstrap.container().vector_index()
    documents, metadata = query_cleaned_documents(index, author_full_names, CLEANED_CLASSES.values())
    logger.info("Read {} cleaned documents of {}.", len(documents), ", ".join(metadata["authors"]))
    log_metadata(metadata=metadata, infer_artifact=True)
    return documents
