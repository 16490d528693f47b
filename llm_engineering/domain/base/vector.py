"""A small OVM: pydantic models stored as points of a `VectorStore` (Qdrant in production) by a `VectorIndex`.

Every field except `id` and `embedding` becomes payload. Collections are created on demand:
cosine distance with the embedding's dimension, or payload-only when `use_vector_index` is False.
Classes with `use_sparse_index = True` also store a BM25 keyword vector of `sparse_text()` per point,
for hybrid (dense + keyword) search. A composition root (`llm_engineering.bootstrap`) builds the index and hands
it to the use cases that need it; nothing is bound process-wide.
"""

from __future__ import annotations

import uuid
from abc import ABC
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, ClassVar, Self, TypeVar

from pydantic import UUID4, BaseModel, ConfigDict, Field, ValidationError

from llm_engineering.domain.base.ports import Filters, VectorPoint, VectorStore
from llm_engineering.domain.exceptions import ImproperlyConfigured, InvalidDocumentError
from llm_engineering.domain.sparse_text import SparseVector, document_vector
from llm_engineering.domain.types import DataCategory

K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound="VectorBaseDocument")


class VectorBaseDocument(BaseModel, ABC):
    """Base of every vector-store model. Subclasses define `class Config: name, category, use_vector_index`."""

    model_config = ConfigDict(populate_by_name=True)

    id: UUID4 = Field(default_factory=uuid.uuid4)

    Config: ClassVar[type]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, self.__class__) and self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)

    # --- Mapping ---------------------------------------------------------------------------
    @classmethod
    def has_embedding(cls) -> bool:
        return "embedding" in cls.model_fields

    def to_point(self) -> VectorPoint:
        payload = self.model_dump(mode="json", by_alias=True, exclude={"id", "embedding"})
        vector = getattr(self, "embedding", None)
        if vector is not None and hasattr(vector, "tolist"):
            vector = vector.tolist()
        sparse = document_vector(self.sparse_text()) if self.get_use_sparse_index() else None
        return VectorPoint(
            id=str(self.id),
            payload=payload,
            vector=list(vector) if vector is not None else None,
            sparse_vector=sparse,
        )

    def sparse_text(self) -> str:
        """The text the keyword index holds for this document (classes with `use_sparse_index` override it)."""
        return str(getattr(self, "content", ""))

    @classmethod
    def from_point(cls, point: VectorPoint) -> Self:
        attributes: dict[str, Any] = {**point.payload, "id": point.id}
        if cls.has_embedding():
            attributes["embedding"] = point.vector
        try:
            return cls.model_validate(attributes)
        except ValidationError as error:
            raise InvalidDocumentError(f"{cls.__name__}: point {point.id}: {error}") from error

    # --- Class configuration ---------------------------------------------------------------
    @classmethod
    def _config_value(cls, attribute: str) -> Any:
        config = getattr(cls, "Config", None)
        if config is None or not hasattr(config, attribute):
            raise ImproperlyConfigured(f"{cls.__name__} must define a nested `Config` class with `{attribute}`.")
        return getattr(config, attribute)

    @classmethod
    def get_collection_name(cls) -> str:
        return str(cls._config_value("name"))

    @classmethod
    def get_category(cls) -> DataCategory:
        return DataCategory(cls._config_value("category"))

    @classmethod
    def get_use_vector_index(cls) -> bool:
        config = getattr(cls, "Config", None)
        return bool(getattr(config, "use_vector_index", True))

    @classmethod
    def get_use_sparse_index(cls) -> bool:
        config = getattr(cls, "Config", None)
        return bool(getattr(config, "use_sparse_index", False))

    # --- Grouping --------------------------------------------------------------------------
    @classmethod
    def group_by_class(cls, documents: Iterable[V]) -> dict[type[V], list[V]]:
        return _group_by(documents, selector=lambda document: document.__class__)

    @classmethod
    def group_by_category(cls, documents: Iterable[V]) -> dict[DataCategory, list[V]]:
        return _group_by(documents, selector=lambda document: document.get_category())

    @classmethod
    def collection_name_to_class(cls, collection_name: str) -> type[VectorBaseDocument]:
        """The subclass (at any depth) that owns a collection."""
        for subclass in cls.__subclasses__():
            config = getattr(subclass, "Config", None)
            if config is not None and getattr(config, "name", None) == collection_name:
                return subclass
            try:
                return subclass.collection_name_to_class(collection_name)
            except ValueError:
                continue
        raise ValueError(f"No vector document class owns the collection {collection_name!r}.")


class VectorIndex:
    """The documents of a vector store, by class: upserts, pages, searches, counts and deletes them."""

    def __init__(self, store: VectorStore):
        self.store = store

    def __repr__(self) -> str:
        return f"VectorIndex({type(self.store).__name__})"

    def create_collection(self, document_class: type[V], vector_size: int | None = None) -> bool:
        """Create this class's collection if missing; vector collections need `vector_size`."""
        if document_class.get_use_vector_index() and not vector_size:
            raise ImproperlyConfigured(
                f"{document_class.__name__} stores vectors: create_collection needs vector_size."
            )
        size = vector_size if document_class.get_use_vector_index() else None
        return self.store.ensure_collection(
            document_class.get_collection_name(), size, sparse=document_class.get_use_sparse_index()
        )

    def bulk_insert(self, document_class: type[V], documents: Sequence[V]) -> int:
        """Upsert documents (same id overwrites), creating the collection on first use; return the count."""
        if not documents:
            return 0
        points = [document.to_point() for document in documents]
        vector_size: int | None = None
        if document_class.get_use_vector_index():
            missing = [point.id for point in points if not point.vector]
            if missing:
                raise InvalidDocumentError(
                    f"{document_class.__name__}: {len(missing)} documents have no embedding: {missing[:3]}"
                )
            vector_size = len(points[0].vector or [])
        self.store.ensure_collection(
            document_class.get_collection_name(), vector_size, sparse=document_class.get_use_sparse_index()
        )
        self.store.upsert(document_class.get_collection_name(), points)
        return len(points)

    def bulk_find(
        self,
        document_class: type[V],
        limit: int = 10,
        offset: uuid.UUID | str | None = None,
        with_vectors: bool = False,
        **filters: Any,
    ) -> tuple[list[V], uuid.UUID | None]:
        """One page of documents (no vector search) and the offset of the next page, or None at the end."""
        if not self.store.collection_exists(document_class.get_collection_name()):
            return [], None
        points, next_offset = self.store.scroll(
            document_class.get_collection_name(),
            limit=limit,
            offset=str(offset) if offset else None,
            filters=_payload_filters(filters),
            with_vectors=with_vectors,
        )
        return [document_class.from_point(point) for point in points], uuid.UUID(next_offset) if next_offset else None

    def find_all(
        self, document_class: type[V], page_size: int = 256, with_vectors: bool = False, **filters: Any
    ) -> list[V]:
        """Every document (matching the filters), paging through the collection."""
        documents: list[V] = []
        offset: uuid.UUID | None = None
        while True:
            page, offset = self.bulk_find(
                document_class, limit=page_size, offset=offset, with_vectors=with_vectors, **filters
            )
            documents.extend(page)
            if offset is None:
                return documents

    def collection_exists(self, document_class: type[V]) -> bool:
        return self.store.collection_exists(document_class.get_collection_name())

    def drop_collection(self, document_class: type[V]) -> None:
        """Delete this class's collection and every point in it (no-op when it does not exist)."""
        if self.collection_exists(document_class):
            self.store.drop_collection(document_class.get_collection_name())

    def has_sparse_index(self, document_class: type[V]) -> bool:
        """Whether this class's existing collection holds keyword vectors (False when it does not exist)."""
        return self.store.collection_exists(document_class.get_collection_name()) and self.store.has_sparse_index(
            document_class.get_collection_name()
        )

    def search(
        self, document_class: type[V], query_vector: Sequence[float], limit: int = 10, **filters: Any
    ) -> list[V]:
        return [document for document, _ in self.search_with_scores(document_class, query_vector, limit, **filters)]

    def search_with_scores(
        self,
        document_class: type[V],
        query_vector: Sequence[float],
        limit: int = 10,
        with_vectors: bool = False,
        sparse_query: SparseVector | None = None,
        candidates: int | None = None,
        **filters: Any,
    ) -> list[tuple[V, float]]:
        """Nearest documents by cosine similarity, best first, with their scores (and their vectors when
        `with_vectors`, so callers re-scoring them need no second round trip).

        With a non-empty `sparse_query` and a collection holding keyword vectors, the search is hybrid: the
        `candidates` (default `limit`) best by each vector are fused by reciprocal rank, and the scores are
        the fused ones. Otherwise it is dense only."""
        if not self.store.collection_exists(document_class.get_collection_name()):
            return []
        hybrid = bool(sparse_query) and self.store.has_sparse_index(document_class.get_collection_name())
        points = self.store.search(
            document_class.get_collection_name(),
            list(query_vector),
            limit=limit,
            filters=_payload_filters(filters),
            with_vectors=with_vectors,
            sparse_query=sparse_query if hybrid else None,
            candidates=candidates if hybrid else None,
        )
        return [(document_class.from_point(point), float(point.score or 0.0)) for point in points]

    def retrieve(self, document_class: type[V], ids: Iterable[uuid.UUID | str], with_vectors: bool = False) -> list[V]:
        if not self.store.collection_exists(document_class.get_collection_name()):
            return []
        points = self.store.retrieve(
            document_class.get_collection_name(), [str(i) for i in ids], with_vectors=with_vectors
        )
        return [document_class.from_point(point) for point in points]

    def delete(self, document_class: type[V], ids: Iterable[uuid.UUID | str]) -> None:
        id_list = [str(i) for i in ids]
        if id_list and self.store.collection_exists(document_class.get_collection_name()):
            self.store.delete(document_class.get_collection_name(), id_list)

    def count(self, document_class: type[V], **filters: Any) -> int:
        if not self.store.collection_exists(document_class.get_collection_name()):
            return 0
        return self.store.count(document_class.get_collection_name(), _payload_filters(filters))


def _group_by(documents: Iterable[V], selector: Callable[[V], K]) -> dict[K, list[V]]:
    grouped: dict[K, list[V]] = defaultdict(list)
    for document in documents:
        grouped[selector(document)].append(document)
    return dict(grouped)


def _payload_filters(filters: dict[str, Any]) -> Filters | None:
    if not filters:
        return None
    return {
        key: [_plain(v) for v in value] if isinstance(value, list | tuple | set) else _plain(value)
        for key, value in filters.items()
    }


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, DataCategory):
        return value.value
    return value
