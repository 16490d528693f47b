"""The doors the domain's ODM/OVM go through. Infrastructure implements them (MongoDB, Qdrant)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from llm_engineering.domain.sparse_text import SparseVector

Filters = Mapping[str, Any]
"""Equality filters on (dotted) fields. A list or tuple value means "any of these"."""


@dataclass(frozen=True)
class InsertReport:
    """What a bulk insert did: ids written and ids skipped because they already existed."""

    inserted: list[str] = field(default_factory=list)
    skipped_existing: list[str] = field(default_factory=list)


@runtime_checkable
class DocumentWarehouse(Protocol):
    """A document database (the data warehouse). Ids are strings stored under `_id`."""

    def insert_one(self, collection: str, document: dict[str, Any]) -> None: ...

    def insert_many(self, collection: str, documents: Sequence[dict[str, Any]]) -> InsertReport: ...

    def find_one(self, collection: str, filters: Filters) -> dict[str, Any] | None: ...

    def find(self, collection: str, filters: Filters, limit: int | None = None) -> Iterator[dict[str, Any]]: ...

    def count(self, collection: str, filters: Filters) -> int: ...

    def delete_many(self, collection: str, filters: Filters) -> int: ...

    def ensure_unique_index(self, collection: str, field_name: str) -> None: ...


@dataclass(frozen=True)
class VectorPoint:
    """One point of a vector collection; `vector` is None in payload-only collections, `sparse_vector` is the
    point's keyword (BM25) vector in collections with a sparse index."""

    id: str
    payload: dict[str, Any]
    vector: list[float] | None = None
    score: float | None = None
    sparse_vector: SparseVector | None = None


@runtime_checkable
class VectorStore(Protocol):
    """A vector database (the logical feature store)."""

    def ping(self) -> None:
        """Open the store and check that it answers: raises `VectorStoreLockedError` when an embedded folder is
        held by another process, `VectorStoreUnavailableError` when a server cannot be reached."""
        ...

    def collection_exists(self, collection: str) -> bool: ...

    def ensure_collection(self, collection: str, vector_size: int | None, sparse: bool = False) -> bool:
        """Create the collection if missing (cosine distance, or no vectors when size is None; with a sparse
        keyword index weighted by IDF when `sparse`); True if created. Raises `VectorStoreSchemaError` when
        `sparse` is asked of an existing collection created without it."""
        ...

    def has_sparse_index(self, collection: str) -> bool:
        """Whether the (existing) collection holds sparse keyword vectors."""
        ...

    def upsert(self, collection: str, points: Sequence[VectorPoint]) -> None: ...

    def scroll(
        self, collection: str, limit: int, offset: str | None, filters: Filters | None, with_vectors: bool = False
    ) -> tuple[list[VectorPoint], str | None]: ...

    def search(
        self,
        collection: str,
        vector: Sequence[float],
        limit: int,
        filters: Filters | None,
        with_vectors: bool = False,
        sparse_query: SparseVector | None = None,
        candidates: int | None = None,
    ) -> list[VectorPoint]:
        """Nearest points, best first, with `score` set (and `vector` when `with_vectors`).

        With `sparse_query` (hybrid search), the `candidates` best points by the dense vector and the
        `candidates` best by the sparse keyword vector are fused by reciprocal rank; `score` is then the
        fused score."""
        ...

    def retrieve(self, collection: str, ids: Iterable[str], with_vectors: bool = False) -> list[VectorPoint]: ...

    def delete(self, collection: str, ids: Iterable[str]) -> None: ...

    def count(self, collection: str, filters: Filters | None = None) -> int: ...

    def drop_collection(self, collection: str) -> None: ...
