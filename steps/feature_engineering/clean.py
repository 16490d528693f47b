"""Step: clean raw documents with the handler of their data category."""

from __future__ import annotations

from typing import Annotated

from loguru import logger
from zenml import log_metadata, step


@step
def clean_documents(raw_documents: list) -> Annotated[list, "cleaned_documents"]:
    """Cleaned documents (same ids as the raw ones); documents that fail are recorded in the metadata.

    Copies of one article (cross-posts) are stored once: the kept document lists every link.
    Metadata on `cleaned_documents`: `num_documents`, per category `num_documents` and per-author counts,
    `num_characters`, `failures`, `duplicate_groups` (kept and folded documents, with their links).
    """
    from llm_engineering.application.preprocessing.feature_engineering import clean_documents as clean
    from llm_engineering.application.preprocessing.feature_engineering import counts_by_category

    result = clean(raw_documents)
    logger.info(
        "Cleaned {} documents ({} failed, {} copies folded).",
        len(result.documents),
        len(result.failures),
        sum(len(group.folded) for group in result.duplicate_groups),
    )
    log_metadata(
        metadata={
            "num_documents": len(result.documents),
            **counts_by_category(result.documents),
            "num_characters": sum(len(document.content) for document in result.documents),
            "failures": result.failures,
            "duplicate_groups": [group.as_dict() for group in result.duplicate_groups],
        },
        infer_artifact=True,
    )
    return result.documents
