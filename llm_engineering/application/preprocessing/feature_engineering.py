"""The feature pipeline's work, free of ZenML: query the warehouse, clean, chunk and embed.

ZenML steps (steps/feature_engineering/) are thin wrappers over these functions; the bench and the
tests call them directly too. Functions that read the warehouse take its `DocumentRepository` first
(`documents`); those that read the feature store take its `VectorIndex` (`index`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from tqdm.auto import tqdm

from llm_engineering.application.errors import IncompleteWarehouseReadError, NoAuthorsFoundError
from llm_engineering.application.ports import Embedder
from llm_engineering.application.preprocessing.chunking_data_handlers import text_to_embed
from llm_engineering.application.preprocessing.dispatchers import (
    ChunkingDispatcher,
    CleaningDispatcher,
    EmbeddingDispatcher,
)
from llm_engineering.application.preprocessing.duplicates import DuplicateGroup, fold_copies
from llm_engineering.application.preprocessing.feature_store import (
    PruneReport,
    feature_hash,
    prune_deleted_documents,
    stored_feature_hashes,
)
from llm_engineering.application.progress import ProgressMeter
from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.domain.base.vector import VectorIndex
from llm_engineering.domain.chunks import Chunk
from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.domain.documents import RAW_DOCUMENT_CLASSES, Document, UserDocument
from llm_engineering.domain.embedded_chunks import EmbeddedChunk
from llm_engineering.domain.exceptions import InvalidDocumentError, LLMTwinError
from llm_engineering.domain.names import split_user_full_name

# --- Query ------------------------------------------------------------------------------------------
ALL_AUTHORS = "all authors"
GIVEN_AUTHORS = "given names"


@dataclass
class WarehouseSnapshot:
    """The raw documents of the authors found, and what could not be read.

    `authors_from` says where the author list came from: `ALL_AUTHORS` (no names given, every user in the
    warehouse) or `GIVEN_AUTHORS` (the names passed in).
    """

    documents: list[Document] = field(default_factory=list)
    authors: dict[str, str] = field(default_factory=dict)  # full name -> user id
    missing_authors: list[str] = field(default_factory=list)
    failed_queries: list[str] = field(default_factory=list)
    authors_from: str = GIVEN_AUTHORS


def find_author(documents: DocumentRepository, full_name: str) -> UserDocument | None:
    """The warehouse user with this full name, or None. Never creates a user (the book's code did)."""
    first_name, last_name = split_user_full_name(full_name)
    return documents.find(UserDocument, first_name=first_name, last_name=last_name)


def list_authors(documents: DocumentRepository) -> dict[str, str]:
    """Every user of the warehouse as full name -> user id, sorted by name.

    Two users with the same full name are both kept: the second one's key carries its id.
    """
    authors: dict[str, str] = {}
    for user in sorted(documents.bulk_find(UserDocument), key=lambda user: (user.full_name, str(user.id))):
        key = user.full_name if user.full_name not in authors else f"{user.full_name} ({user.id})"
        authors[key] = str(user.id)
    return authors


def fetch_author_documents(
    documents: DocumentRepository, author_id: uuid.UUID | str
) -> tuple[list[Document], list[str]]:
    """All raw documents of one author, one collection per thread (the queries wait on I/O).

    Returns the documents and the names of collections whose query failed.
    """

    def fetch(document_class: type[Document]) -> list[Document]:
        return list(documents.bulk_find(document_class, author_id=str(author_id)))

    found: list[Document] = []
    failed: list[str] = []
    with ThreadPoolExecutor(max_workers=len(RAW_DOCUMENT_CLASSES)) as pool:
        futures = {cls.get_collection_name(): pool.submit(fetch, cls) for cls in RAW_DOCUMENT_CLASSES}
        for collection, future in futures.items():
            try:
                found.extend(future.result())
            except LLMTwinError as error:
                logger.error("Reading {} of author {} failed: {}", collection, author_id, error)
                failed.append(collection)
    return found, failed


def query_warehouse(documents: DocumentRepository, author_full_names: Sequence[str] | None = None) -> WarehouseSnapshot:
    """Every raw document of the named authors, or of every author in the warehouse when no name is given.

    `author_full_names` None, empty or only blank names means all authors (`authors_from == ALL_AUTHORS`).
    Named authors that are not in the warehouse are recorded in `missing_authors` and skipped, never created.
    Raises NoAuthorsFoundError when none of the names is in the warehouse, or no name is given and the
    warehouse has no author at all.
    """
    names = list(dict.fromkeys(name.strip() for name in author_full_names or () if name and name.strip()))
    snapshot = WarehouseSnapshot(authors_from=GIVEN_AUTHORS if names else ALL_AUTHORS)
    if names:
        for full_name in names:
            try:
                author = find_author(documents, full_name)
            except InvalidDocumentError:
                author = None
            if author is None:
                logger.warning("Author {!r} is not in the data warehouse; skipped.", full_name)
                snapshot.missing_authors.append(full_name)
                continue
            snapshot.authors[full_name] = str(author.id)
        if not snapshot.authors:
            raise NoAuthorsFoundError(
                f"None of the authors {names} is in the data warehouse. Crawl them first "
                "(tools.run --run-etl) or import a backup (tools.data_warehouse --import-raw-data)."
            )
    else:
        snapshot.authors = list_authors(documents)
        if not snapshot.authors:
            raise NoAuthorsFoundError(
                "No author given and the data warehouse has no authors: crawl an author's links first "
                "(poe run-digital-data-etl-own, see configs/digital_data_etl_template.yaml), import the book's "
                "corpus (poe run-import-handbook-warehouse) or a backup (tools.data_warehouse --import-raw-data)."
            )
        logger.info(
            "No author given: using all {} authors of the warehouse ({}).",
            len(snapshot.authors),
            ", ".join(snapshot.authors),
        )
    for full_name, author_id in snapshot.authors.items():
        found, failed = fetch_author_documents(documents, author_id)
        snapshot.documents.extend(found)
        snapshot.failed_queries.extend(f"{full_name}/{collection}" for collection in failed)
    return snapshot


def prune_deleted_features(
    documents: DocumentRepository, index: VectorIndex, author_full_names: Sequence[str] | None = None
) -> PruneReport:
    """Remove from `index` the features of the authors' documents (all authors when none is named) no longer
    in the warehouse (`documents`).

    The warehouse is listed afresh; if any collection cannot be read, nothing is pruned (a failed read
    must not look like deleted documents).
    """
    snapshot = query_warehouse(documents, author_full_names)
    if snapshot.failed_queries:
        raise IncompleteWarehouseReadError(
            f"Not pruning: reading {', '.join(snapshot.failed_queries)} failed, so deleted documents cannot be told "
            "apart from unread ones. Run again once the warehouse answers."
        )
    return prune_deleted_documents(index, [document.id for document in snapshot.documents], snapshot.authors.values())


# --- Clean ------------------------------------------------------------------------------------------
@dataclass
class CleaningResult:
    """Cleaned documents, one per group of copies (see `duplicates`), and the documents that failed."""

    documents: list[CleanedDocument] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    duplicate_groups: list[DuplicateGroup] = field(default_factory=list)


def clean_documents(documents: Iterable[Document]) -> CleaningResult:
    """Clean every document, then fold copies of one article into one document (its `links` and
    `duplicate_ids` say which); a document that cannot be cleaned is recorded, the others go on."""
    result = CleaningResult()
    cleaned: list[CleanedDocument] = []
    for document in documents:
        try:
            cleaned.append(CleaningDispatcher.dispatch(document))
        except (LLMTwinError, ValueError) as error:
            logger.error("Cleaning {} {} failed: {}", type(document).__name__, document.id, error)
            result.failures.append({"document_id": str(document.id), "error": str(error)})
    folded = fold_copies(cleaned)
    result.documents, result.duplicate_groups = folded.documents, folded.groups
    for group in folded.groups:
        logger.info(
            "Kept one copy of {!r}: {} folded into {}",
            getattr(group.kept, "title", None) or group.kept.id,
            ", ".join(str(getattr(copy, "link", None) or copy.id) for copy in group.folded),
            getattr(group.kept, "link", None) or group.kept.id,
        )
    return result


# --- Chunk and embed --------------------------------------------------------------------------------
@dataclass
class EmbeddingResult:
    """Embedded chunks of the documents that needed (re-)embedding, and what was skipped or failed."""

    chunks: list[EmbeddedChunk] = field(default_factory=list)
    chunked: list[Chunk] = field(default_factory=list)
    skipped_unchanged: list[str] = field(default_factory=list)
    failed_documents: dict[str, str] = field(default_factory=dict)
    embedded_documents: list[str] = field(default_factory=list)
    num_documents: int = 0

    def as_metadata(self, embedder: Embedder) -> dict[str, Any]:
        """Counts for the run's metadata: documents, and per category chunking and embedding figures."""
        chunking: dict[str, Any] = {}
        for chunk in self.chunked:
            parameters = {key: value for key, value in chunk.metadata.items() if key in _CHUNKING_PARAMETERS}
            entry = chunking.setdefault(
                str(chunk.get_category()),
                {**parameters, "num_chunks": 0, "max_chunk_tokens": 0, "max_chunk_characters": 0},
            )
            entry["num_chunks"] += 1
            entry["max_chunk_tokens"] = max(entry["max_chunk_tokens"], int(chunk.metadata.get("token_count", 0)))
            entry["max_chunk_characters"] = max(entry["max_chunk_characters"], len(chunk.content))
        embedding = counts_by_category(self.chunks)
        for entry in embedding.values():
            entry.update(
                embedding_model_id=embedder.model_id,
                embedding_size=embedder.dimension,
                max_input_length=embedder.max_input_tokens,
            )
        return {
            "num_documents": self.num_documents,
            "num_documents_embedded": len(self.embedded_documents),
            "num_documents_skipped_unchanged": len(self.skipped_unchanged),
            "num_documents_failed": len(self.failed_documents),
            "failed_documents": self.failed_documents,
            "num_chunks": len(self.chunked),
            "num_embedded_chunks": len(self.chunks),
            "chunking": chunking,
            "embedding": embedding,
        }


_CHUNKING_PARAMETERS = ("chunker", "max_tokens", "chunk_size", "chunk_overlap", "min_length", "max_length")


def chunk_documents(
    index: VectorIndex | None, documents: Sequence[CleanedDocument], embedder: Embedder, incremental: bool = True
) -> tuple[list[Chunk], list[str]]:
    """Chunks of the documents that changed since their chunks were stored in `index` (all of them when not
    incremental; `index` may then be None, as nothing is read from it).

    Each chunk's metadata gets the `feature_hash` the next incremental run compares with.
    Returns the chunks and the ids of the documents skipped as unchanged.
    """
    if incremental and index is None:
        raise ValueError("an incremental run compares with the stored chunks: it needs the vector index")
    chunker = ChunkingDispatcher(embedder)
    stored: dict[str, str] = {}
    if incremental and index is not None and documents:
        stored = stored_feature_hashes(
            index,
            {document.get_category() for document in documents},
            {document.author_id for document in documents},
        )
    chunks: list[Chunk] = []
    skipped: list[str] = []
    for document in tqdm(documents, desc="Chunking", unit="doc", disable=len(documents) < 20):
        current = feature_hash(document, chunker.handler(document.get_category()).parameters, embedder.model_id)
        if stored.get(str(document.id)) == current:
            skipped.append(str(document.id))
            continue
        for chunk in chunker.dispatch(document):
            chunk.metadata["feature_hash"] = current
            chunks.append(chunk)
    return chunks, skipped


# Chunks per embedding call: a progress line every 4-6 s on 2 busy CPU cores (groups of 512 left the log
# silent for a minute or two), still two of the embedder's batches of 32. Chunks are sorted by length before
# they are grouped, so a small group pads as little as a large one whose texts the embedder sorts itself.
EMBED_GROUP_SIZE = 64


def embed_chunks(
    chunks: Sequence[Chunk], embedder: Embedder, batch_size: int | None = None, group_size: int = EMBED_GROUP_SIZE
) -> tuple[list[EmbeddedChunk], dict[str, str]]:
    """Embed chunks per category, longest first, in groups of `group_size` (each one batched model call),
    logging after each group the chunks done of the total, chunks/s and the time left.

    A failed group is recorded for its documents, whose chunks are all left out, so no document is stored
    half-embedded. Returns the embedded chunks, in the order of `chunks`, and failed document ids -> error.
    """
    if group_size < 1:
        raise ValueError(f"group_size must be at least 1, got {group_size}")
    dispatcher = EmbeddingDispatcher(embedder, batch_size)
    by_category: dict[str, list[int]] = defaultdict(list)
    for index, chunk in enumerate(chunks):
        by_category[chunk.get_category()].append(index)
    groups: list[list[int]] = []
    for indexes in by_category.values():
        indexes.sort(key=lambda index: len(text_to_embed(chunks[index])), reverse=True)
        groups.extend(indexes[start : start + group_size] for start in range(0, len(indexes), group_size))
    embedded: dict[int, EmbeddedChunk] = {}
    failed: dict[str, str] = {}
    meter = ProgressMeter(len(chunks))
    with tqdm(total=len(chunks), desc="Embedding", unit="chunk", disable=len(groups) < 2) as bar:
        for group in groups:
            members = [chunks[index] for index in group]
            try:
                embedded.update(zip(group, dispatcher.dispatch(members), strict=True))
            except (LLMTwinError, RuntimeError, ValueError) as error:
                logger.error("Embedding {} chunks failed: {}", len(members), error)
                for chunk in members:
                    failed[str(chunk.document_id)] = str(error)  # type: ignore[attr-defined]
            bar.update(len(members))
            logger.info("Embedding: {}", meter.advance(len(members)).describe("chunk"))
    ordered = [embedded[index] for index in sorted(embedded)]
    if failed:
        ordered = [chunk for chunk in ordered if str(chunk.document_id) not in failed]
    return ordered, failed


def chunk_and_embed(
    index: VectorIndex | None,
    documents: Sequence[CleanedDocument],
    embedder: Embedder,
    incremental: bool = True,
    batch_size: int | None = None,
) -> EmbeddingResult:
    """Chunk and embed the documents that changed since their chunks were stored in `index` (or all, when not
    incremental; `index` may then be None)."""
    chunks, skipped = chunk_documents(index, documents, embedder, incremental=incremental)
    embedded, failed = embed_chunks(chunks, embedder, batch_size=batch_size)
    embedded_ids = sorted({str(chunk.document_id) for chunk in embedded})
    return EmbeddingResult(
        chunks=embedded,
        chunked=chunks,
        skipped_unchanged=skipped,
        failed_documents=failed,
        embedded_documents=embedded_ids,
        num_documents=len(documents),
    )


# --- Metadata ---------------------------------------------------------------------------------------
def counts_by_category(documents: Iterable[Any]) -> dict[str, Any]:
    """`{category: {"num_documents": n, "authors": {name: n}}}` for documents or chunks of any stage."""
    summary: dict[str, dict[str, Any]] = {}
    for document in documents:
        entry = summary.setdefault(str(document.get_category()), {"num_documents": 0, "authors": defaultdict(int)})
        entry["num_documents"] += 1
        entry["authors"][document.author_full_name] += 1
    return {category: {**entry, "authors": dict(entry["authors"])} for category, entry in summary.items()}
