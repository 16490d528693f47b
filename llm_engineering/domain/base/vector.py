"""A small OVM: pydantic models stored as points of a bound `VectorStore` (Qdrant in production).

Every field except `id` and `embedding` becomes payload. Collections are created on demand:
cosine distance with the embedding's dimension, or payload-only when `use_vector_index` is False.
Classes with `use_sparse_index = True` also store a BM25 keyword vector of `sparse_text()` per point,
for hybrid (dense + keyword) search.
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

_binding: dict[str, VectorStore] = {}

K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound="VectorBaseDocument")


def bind_vector_store(store: VectorStore | None) -> None:
    """Bind (or unbind, with None) the vector store every vector document uses."""
    if store is None:
        _binding.pop("store", None)
    else:
        _binding["store"] = store


def bound_vector_store() -> VectorStore:
    try:
        return _binding["store"]
    except KeyError:
        raise ImproperlyConfigured(
            "No vector store is bound. Call llm_engineering.bootstrap.configure() "
            "(or bind_vector_store(...) in tests) before using vector documents."
        ) from None


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

    # --- Persistence -----------------------------------------------------------------------
    @classmethod
    def _store(cls) -> VectorStore:
        return bound_vector_store()

    @classmethod
    def create_collection(cls, vector_size: int | None = None) -> bool:
        """Create this class's collection if missing; vector collections need `vector_size`."""
        if cls.get_use_vector_index() and not vector_size:
            raise ImproperlyConfigured(f"{cls.__name__} stores vectors: create_collection needs vector_size.")
        size = vector_size if cls.get_use_vector_index() else None
        return cls._store().ensure_collection(cls.get_collection_name(), size, sparse=cls.get_use_sparse_index())

    @classmethod
    def bulk_insert(cls, documents: Sequence[Self]) -> int:
        """Upsert documents (same id overwrites), creating the collection on first use; return the count."""
        if not documents:
            return 0
        points = [document.to_point() for document in documents]
        vector_size: int | None = None
        if cls.get_use_vector_index():
            missing = [point.id for point in points if not point.vector]
            if missing:
                raise InvalidDocumentError(f"{cls.__name__}: {len(missing)} documents have no embedding: {missing[:3]}")
            vector_size = len(points[0].vector or [])
        store = cls._store()
        store.ensure_collection(cls.get_collection_name(), vector_size, sparse=cls.get_use_sparse_index())
        store.upsert(cls.get_collection_name(), points)
        return len(points)

    @classmethod
    def bulk_find(
        cls,
        limit: int = 10,
        offset: uuid.UUID | str | None = None,
        with_vectors: bool = False,
        **filters: Any,
    ) -> tuple[list[Self], uuid.UUID | None]:
        """One page of documents (no vector search) and the offset of the next page, or None at the end."""
        store = cls._store()
        if not store.collection_exists(cls.get_collection_name()):
            return [], None
        points, next_offset = store.scroll(
            cls.get_collection_name(),
            limit=limit,
            offset=str(offset) if offset else None,
            filters=_payload_filters(filters),
            with_vectors=with_vectors,
        )
        return [cls.from_point(point) for point in points], uuid.UUID(next_offset) if next_offset else None

    @classmethod
    def find_all(cls, page_size: int = 256, with_vectors: bool = False, **filters: Any) -> list[Self]:
        """Every document (matching the filters), paging through the collection."""
        documents: list[Self] = []
        offset: uuid.UUID | None = None
        while True:
            page, offset = cls.bulk_find(limit=page_size, offset=offset, with_vectors=with_vectors, **filters)
            documents.extend(page)
            if offset is None:
                return documents

    @classmethod
    def collection_exists(cls) -> bool:
        return cls._store().collection_exists(cls.get_collection_name())

    @classmethod
    def drop_collection(cls) -> None:
        """Delete this class's collection and every point in it (no-op when it does not exist)."""
        if cls.collection_exists():
            cls._store().drop_collection(cls.get_collection_name())

    @classmethod
    def has_sparse_index(cls) -> bool:
        """Whether this class's existing collection holds keyword vectors (False when it does not exist)."""
        store = cls._store()
        return store.collection_exists(cls.get_collection_name()) and store.has_sparse_index(cls.get_collection_name())

    @classmethod
    def search(cls, query_vector: Sequence[float], limit: int = 10, **filters: Any) -> list[Self]:
        return [document for document, _ in cls.search_with_scores(query_vector, limit, **filters)]

    @classmethod
    def search_with_scores(
        cls,
        query_vector: Sequence[float],
        limit: int = 10,
        with_vectors: bool = False,
        sparse_query: SparseVector | None = None,
        candidates: int | None = None,
        **filters: Any,
    ) -> list[tuple[Self, float]]:
        """Nearest documents by cosine similarity, best first, with their scores (and their vectors when
        `with_vectors`, so callers re-scoring them need no second round trip).

        With a non-empty `sparse_query` and a collection holding keyword vectors, the search is hybrid: the
        `candidates` (default `limit`) best by each vector are fused by reciprocal rank, and the scores are
        the fused ones. Otherwise it is dense only."""
        store = cls._store()
        if not store.collection_exists(cls.get_collection_name()):
            return []
        hybrid = bool(sparse_query) and store.has_sparse_index(cls.get_collection_name())
        points = store.search(
            cls.get_collection_name(),
            list(query_vector),
            limit=limit,
            filters=_payload_filters(filters),
            with_vectors=with_vectors,
            sparse_query=sparse_query if hybrid else None,
            candidates=candidates if hybrid else None,
        )
        return [(cls.from_point(point), float(point.score or 0.0)) for point in points]

    @classmethod
    def retrieve(cls, ids: Iterable[uuid.UUID | str], with_vectors: bool = False) -> list[Self]:
        store = cls._store()
        if not store.collection_exists(cls.get_collection_name()):
            return []
        points = store.retrieve(cls.get_collection_name(), [str(i) for i in ids], with_vectors=with_vectors)
        return [cls.from_point(point) for point in points]

    @classmethod
    def delete(cls, ids: Iterable[uuid.UUID | str]) -> None:
        id_list = [str(i) for i in ids]
        if id_list and cls._store().collection_exists(cls.get_collection_name()):
            cls._store().delete(cls.get_collection_name(), id_list)

    @classmethod
    def count(cls, **filters: Any) -> int:
        store = cls._store()
        if not store.collection_exists(cls.get_collection_name()):
            return 0
        return store.count(cls.get_collection_name(), _payload_filters(filters))

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
