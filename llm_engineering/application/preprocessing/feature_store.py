"""Writing features to the logical feature store (the vector DB), incrementally and without duplicates.

- Each embedded chunk carries a `feature_hash` in its metadata: a hash of its document's cleaned
  payload, the chunking parameters and the embedding model. A document whose stored chunks all carry
  the current hash, and are all there, needs no re-embedding.
- Chunks are loaded in batches of whole documents; after a batch is upserted, points of those documents
  that the new chunking no longer produces are deleted, so a changed document leaves no stale chunks.
- A failed batch is recorded and the load goes on with the next one.
- Pruning (explicit) removes cleaned documents and chunks of documents no longer in the warehouse.
- Loading a cleaned document that copies of it were folded into (`duplicate_ids`) removes what earlier
  runs stored for those copies.

Every function that reads or writes the store takes its `VectorIndex` first (`index`); a composition root
(a ZenML step, a tool, a bench) hands it over.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from llm_engineering.domain.base.vector import VectorBaseDocument, VectorIndex
from llm_engineering.domain.cleaned_documents import (
    CleanedArticleDocument,
    CleanedDocument,
    CleanedPostDocument,
    CleanedRepositoryDocument,
)
from llm_engineering.domain.embedded_chunks import (
    EmbeddedArticleChunk,
    EmbeddedChunk,
    EmbeddedPostChunk,
    EmbeddedRepositoryChunk,
)
from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.domain.types import DataCategory

# The feature store's two snapshots per content category.
CLEANED_CLASSES: dict[DataCategory, type[CleanedDocument]] = {
    DataCategory.POSTS: CleanedPostDocument,
    DataCategory.ARTICLES: CleanedArticleDocument,
    DataCategory.REPOSITORIES: CleanedRepositoryDocument,
}
EMBEDDED_CLASSES: dict[DataCategory, type[EmbeddedChunk]] = {
    DataCategory.POSTS: EmbeddedPostChunk,
    DataCategory.ARTICLES: EmbeddedArticleChunk,
    DataCategory.REPOSITORIES: EmbeddedRepositoryChunk,
}

# Bump when cleaning or chunking code changes what it produces, so the next run re-embeds everything.
# 2: platform chrome removed, copies of one article folded into one document (with every link).
FEATURE_VERSION = 2
SCROLL_PAGE = 1024


def feature_hash(document: CleanedDocument, chunking_parameters: dict[str, Any], embedding_model_id: str) -> str:
    """Hash of everything an embedded chunk of `document` depends on."""
    basis = {
        "version": FEATURE_VERSION,
        "content_hash": document.content_hash,
        "chunking": chunking_parameters,
        "embedding_model_id": embedding_model_id,
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


def _scroll(
    index: VectorIndex, document_class: type[VectorBaseDocument], **filters: Any
) -> Iterable[VectorBaseDocument]:
    offset: uuid.UUID | None = None
    while True:
        page, offset = index.bulk_find(document_class, limit=SCROLL_PAGE, offset=offset, **filters)
        yield from page
        if offset is None:
            return


def stored_feature_hashes(
    index: VectorIndex, categories: Iterable[DataCategory], author_ids: Iterable[uuid.UUID | str]
) -> dict[str, str]:
    """Document id -> feature hash, for documents whose stored chunks are complete and of one build."""
    authors = sorted({str(author) for author in author_ids})
    if not authors:
        return {}
    complete: dict[str, str] = {}
    for category in set(categories):
        hashes: dict[str, set[str]] = defaultdict(set)
        counts: dict[str, int] = defaultdict(int)
        expected: dict[str, int] = {}
        for chunk in _scroll(index, EMBEDDED_CLASSES[category], author_id=authors):
            document_id = str(chunk.document_id)  # type: ignore[attr-defined]
            metadata = chunk.metadata  # type: ignore[attr-defined]
            hashes[document_id].add(str(metadata.get("feature_hash")))
            counts[document_id] += 1
            expected[document_id] = int(metadata.get("num_chunks", -1))
        for document_id, found in hashes.items():
            if len(found) == 1 and counts[document_id] == expected[document_id]:
                complete[document_id] = found.pop()
    return complete


@dataclass
class CollectionLoad:
    """What loading one collection did."""

    collection: str
    points_written: int = 0
    batches: int = 0
    stale_points_removed: int = 0
    failed_batches: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LoadReport:
    """What a load did per collection; `failed_document_ids` lists documents of failed batches."""

    collections: dict[str, CollectionLoad] = field(default_factory=dict)
    # Collection -> points rewritten to add the keyword index (collections from before hybrid search).
    keyword_indexes_added: dict[str, int] = field(default_factory=dict)
    # Collection -> points removed because their document is now a folded copy of another one.
    copies_removed: dict[str, int] = field(default_factory=dict)

    @property
    def points_written(self) -> int:
        return sum(load.points_written for load in self.collections.values())

    @property
    def failed_batches(self) -> int:
        return sum(len(load.failed_batches) for load in self.collections.values())

    @property
    def failed_document_ids(self) -> list[str]:
        return sorted({i for load in self.collections.values() for b in load.failed_batches for i in b["documents"]})

    def as_metadata(self) -> dict[str, Any]:
        return {
            "points_written": self.points_written,
            "failed_batches": self.failed_batches,
            "failed_document_ids": self.failed_document_ids,
            "keyword_indexes_added": self.keyword_indexes_added,
            "copies_removed": self.copies_removed,
            **{
                name: {
                    "points_written": load.points_written,
                    "batches": load.batches,
                    "stale_points_removed": load.stale_points_removed,
                    "failed_batches": load.failed_batches,
                }
                for name, load in self.collections.items()
            },
        }


def _document_key(document: VectorBaseDocument) -> str:
    """The warehouse document a point belongs to: chunks point at it, cleaned documents are it."""
    return str(getattr(document, "document_id", document.id))


def _batches_of_whole_documents(documents: Sequence[VectorBaseDocument], size: int) -> list[list[VectorBaseDocument]]:
    """Batches of about `size` points that never split one document's points (unless it alone exceeds size)."""
    by_document: dict[str, list[VectorBaseDocument]] = defaultdict(list)
    for document in documents:
        by_document[_document_key(document)].append(document)
    batches: list[list[VectorBaseDocument]] = []
    current: list[VectorBaseDocument] = []
    for points in by_document.values():
        if current and len(current) + len(points) > size:
            batches.append(current)
            current = []
        current.extend(points)
    if current:
        batches.append(current)
    return batches


def _remove_stale_chunks(
    index: VectorIndex, chunk_class: type[EmbeddedChunk], batch: Sequence[VectorBaseDocument]
) -> int:
    """Delete stored chunks of the batch's documents that the batch does not contain."""
    document_ids = sorted({_document_key(chunk) for chunk in batch})
    keep = {str(chunk.id) for chunk in batch}
    stale = [
        str(chunk.id) for chunk in _scroll(index, chunk_class, document_id=document_ids) if str(chunk.id) not in keep
    ]
    index.delete(chunk_class, stale)
    return len(stale)


def add_keyword_indexes(index: VectorIndex, batch_size: int = 256) -> dict[str, int]:
    """Rebuild chunk collections created before hybrid search so they hold keyword (BM25) vectors too.

    The points are read with their dense vectors, the collection is recreated with the sparse index and
    the same points are written back with their keyword vectors: nothing is re-embedded or lost (the
    feature pipeline can always rebuild the store from the warehouse, should the process die midway).
    Returns collection -> points rewritten, for the collections that needed it.
    """
    rebuilt: dict[str, int] = {}
    for chunk_class in EMBEDDED_CLASSES.values():
        if not index.collection_exists(chunk_class) or index.has_sparse_index(chunk_class):
            continue
        points = index.find_all(chunk_class, page_size=SCROLL_PAGE, with_vectors=True)
        logger.warning(
            "Adding the keyword index to {}: rewriting its {} points", chunk_class.get_collection_name(), len(points)
        )
        index.drop_collection(chunk_class)
        for start in range(0, len(points), batch_size):
            index.bulk_insert(chunk_class, points[start : start + batch_size])
        rebuilt[chunk_class.get_collection_name()] = len(points)
    return rebuilt


def remove_folded_copies(index: VectorIndex, documents: Iterable[VectorBaseDocument]) -> dict[str, int]:
    """Delete the cleaned documents and chunks that earlier runs stored for documents now folded into one
    of `documents` (their `duplicate_ids`), so a store never serves two copies of one article.

    Returns collection -> points removed (nothing to remove on a re-run: it is idempotent).
    """
    folded: dict[DataCategory, set[str]] = defaultdict(set)
    for document in documents:
        if isinstance(document, CleanedDocument) and document.duplicate_ids:
            folded[document.get_category()].update(document.duplicate_ids)
    removed: dict[str, int] = {}
    for category, ids in folded.items():
        cleaned_class, chunk_class = CLEANED_CLASSES[category], EMBEDDED_CLASSES[category]
        stored = [str(document.id) for document in index.retrieve(cleaned_class, sorted(ids))]
        index.delete(cleaned_class, stored)
        chunks = [str(chunk.id) for chunk in _scroll(index, chunk_class, document_id=sorted(ids))]
        index.delete(chunk_class, chunks)
        removed[cleaned_class.get_collection_name()] = len(stored)
        removed[chunk_class.get_collection_name()] = len(chunks)
        if stored or chunks:
            logger.info("Removed {} cleaned documents and {} chunks of folded copies", len(stored), len(chunks))
    return removed


def load_documents(index: VectorIndex, documents: Sequence[VectorBaseDocument], batch_size: int = 256) -> LoadReport:
    """Upsert cleaned documents or embedded chunks into their collections of `index`, batch by batch (chunk
    collections from before hybrid search get their keyword index first, see `add_keyword_indexes`).
    Loading cleaned documents also removes what was stored for the copies folded into them.

    A batch that fails is recorded (collection, documents, error) and the next batch is tried.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    report = LoadReport()
    report.keyword_indexes_added = add_keyword_indexes(index, batch_size)
    for document_class, members in VectorBaseDocument.group_by_class(documents).items():
        load = report.collections.setdefault(
            document_class.get_collection_name(), CollectionLoad(document_class.get_collection_name())
        )
        is_chunk = issubclass(document_class, EmbeddedChunk)
        for batch in _batches_of_whole_documents(members, batch_size):
            load.batches += 1
            try:
                load.points_written += index.bulk_insert(document_class, batch)
                if is_chunk:
                    load.stale_points_removed += _remove_stale_chunks(index, document_class, batch)  # type: ignore[arg-type]
            except LLMTwinError as error:
                documents_in_batch = sorted({_document_key(document) for document in batch})
                logger.error("Loading {} points into {} failed: {}", len(batch), load.collection, error)
                load.failed_batches.append({"documents": documents_in_batch, "points": len(batch), "error": str(error)})
    try:
        report.copies_removed = remove_folded_copies(index, documents)
    except LLMTwinError as error:
        # The kept copies are stored; the stale ones go on the next run (retrieval drops repeats meanwhile).
        logger.error("Removing folded copies failed: {}", error)
    return report


def folded_copy_ids(index: VectorIndex, categories: Iterable[DataCategory] = tuple(CLEANED_CLASSES)) -> dict[str, str]:
    """Warehouse id of each folded copy -> id of the stored document it was folded into (from the cleaned
    documents' `duplicate_ids`): what an evaluation labelled with either copy's link should look for."""
    kept: dict[str, str] = {}
    for category in categories:
        for document in _scroll(index, CLEANED_CLASSES[category]):
            kept.update(dict.fromkeys(document.duplicate_ids, str(document.id)))  # type: ignore[attr-defined]
    return kept


def document_id_for_link(
    index: VectorIndex, link: str, categories: Iterable[DataCategory] = tuple(CLEANED_CLASSES)
) -> str | None:
    """Id of the stored document known by `link` (its own or a folded copy's), or None."""
    for category in categories:
        found, _ = index.bulk_find(CLEANED_CLASSES[category], limit=1, links=link)
        if found:
            return str(found[0].id)
    return None


@dataclass
class PruneReport:
    """Points removed because their warehouse documents are gone, per collection."""

    removed: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def prune_deleted_documents(
    index: VectorIndex,
    current_document_ids: Iterable[uuid.UUID | str],
    author_ids: Iterable[uuid.UUID | str],
    categories: Iterable[DataCategory] = tuple(CLEANED_CLASSES),
) -> PruneReport:
    """Delete cleaned documents and chunks of these authors whose document is not in `current_document_ids`.

    Only the given authors' points are considered, so a run for one author never prunes another's.
    """
    current = {str(document_id) for document_id in current_document_ids}
    authors = sorted({str(author) for author in author_ids})
    report = PruneReport()
    if not authors:
        return report
    for category in categories:
        for document_class in (CLEANED_CLASSES[category], EMBEDDED_CLASSES[category]):
            gone = [
                str(point.id)
                for point in _scroll(index, document_class, author_id=authors)
                if _document_key(point) not in current
            ]
            index.delete(document_class, gone)
            report.removed[document_class.get_collection_name()] = len(gone)
            if gone:
                logger.info(
                    "Pruned {} points of deleted documents from {}", len(gone), document_class.get_collection_name()
                )
    return report
