"""Step: chunk and embed the cleaned documents that changed since the last run."""

from __future__ import annotations

from typing import Annotated

from loguru import logger
from zenml import log_metadata, step


# Never cached: whether a document needs embedding depends on what the vector store holds now.
@step(enable_cache=False)
def chunk_and_embed(cleaned_documents: list, incremental: bool = True) -> Annotated[list, "embedded_documents"]:
    """Embedded chunks of the documents whose content, chunking or model changed (all when not incremental).

    Metadata on `embedded_documents`: document counts (embedded, skipped as unchanged, failed), and per
    category the chunking parameters, chunk and token counts and authors, and the embedding model.
    """
    from llm_engineering import bootstrap
    from llm_engineering.application.preprocessing.feature_engineering import chunk_and_embed as embed

    container = bootstrap.container()
    embedder = container.embedder()
    batch_size = container.settings.EMBEDDING_BATCH_SIZE
    # Batch encoding takes every core, also when the pipeline runs inside the API (web UI jobs).
    with bootstrap.embedding_threads_for(container.settings, "batch"):
        result = embed(
            container.vector_index(), cleaned_documents, embedder, incremental=incremental, batch_size=batch_size
        )
    logger.info(
        "Embedded {} chunks of {} documents; {} unchanged documents skipped, {} failed.",
        len(result.chunks),
        len(result.embedded_documents),
        len(result.skipped_unchanged),
        len(result.failed_documents),
    )
    log_metadata(metadata=result.as_metadata(embedder), infer_artifact=True)
    return result.chunks
