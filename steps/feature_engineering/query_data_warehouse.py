"""Step: read every raw document of the given authors (or of all authors) from the data warehouse."""

from __future__ import annotations

from typing import Annotated

from loguru import logger
from zenml import log_metadata, step


# Never cached: the warehouse changes between runs while the step's inputs (author names) do not.
@step(enable_cache=False)
def query_data_warehouse(author_full_names: list[str] | None = None) -> Annotated[list, "raw_documents"]:
    """Raw documents (articles, posts, repositories) of the authors; unknown authors are skipped.

    No names (None or an empty list) means every author in the warehouse. Fails when none of the named
    authors is in the warehouse, or when no name is given and the warehouse has no author; first of all,
    fails when the vector store cannot be opened (the rest of the pipeline writes to it). Metadata on
    `raw_documents`: `num_documents`, per category `num_documents` and per-author counts, `authors` used
    (name -> id), `authors_from` ("all authors" or "given names"), `missing_authors`, `failed_queries`.
    """
    from llm_engineering import bootstrap
    from llm_engineering.application.preprocessing.feature_engineering import counts_by_category, query_warehouse

    container = bootstrap.container()
    # Fail before any work when the feature store cannot be opened (an embedded Qdrant folder another
    # process holds), not after reading the warehouse, cleaning and loading the embedding model.
    container.vector_store().ping()
    snapshot = query_warehouse(container.documents(), author_full_names)
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
            "authors_from": snapshot.authors_from,
            "missing_authors": snapshot.missing_authors,
            "failed_queries": snapshot.failed_queries,
        },
        infer_artifact=True,
    )
    return snapshot.documents
