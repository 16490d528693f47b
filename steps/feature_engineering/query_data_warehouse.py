"""Step: read every raw document of the given authors from the data warehouse."""

from __future__ import annotations

from typing import Annotated

from loguru import logger
from zenml import log_metadata, step


# Never cached: the warehouse changes between runs while the step's inputs (author names) do not.
@step(enable_cache=False)
def query_data_warehouse(author_full_names: list[str]) -> Annotated[list, "raw_documents"]:
    """Raw documents (articles, posts, repositories) of the authors; unknown authors are skipped.

    Fails when none of the authors is in the warehouse. Metadata on `raw_documents`: `num_documents`,
    per category `num_documents` and per-author counts, `authors` found (name -> id), `missing_authors`,
    `failed_queries`.
    """
    from llm_engineering import bootstrap
    from llm_engineering.application.preprocessing.feature_engineering import counts_by_category, query_warehouse

    bootstrap.container()  # binds the stores the documents use
    snapshot = query_warehouse(author_full_names)
    logger.info(
        "Read {} documents of {} authors ({} missing).",
        len(snapshot.documents),
        len(snapshot.authors),
        len(snapshot.missing_authors),
    )
    log_metadata(
        metadata={
            "num_documents": len(snapshot.documents),
            **counts_by_category(snapshot.documents),
            "authors": snapshot.authors,
            "missing_authors": snapshot.missing_authors,
            "failed_queries": snapshot.failed_queries,
        },
        infer_artifact=True,
    )
    return snapshot.documents
