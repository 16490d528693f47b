"""Qdrant adapter of the vector store: a server (URL), Qdrant Cloud, or embedded local mode on disk.

qdrant-client errors are translated into the domain's exceptions here.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_engineering.domain.base.ports import Filters, VectorPoint
from llm_engineering.domain.exceptions import (
    VectorStoreLockedError,
    VectorStoreOperationError,
    VectorStoreSchemaError,
    VectorStoreUnavailableError,
)
from llm_engineering.domain.sparse_text import SparseVector

if TYPE_CHECKING:
    from qdrant_client import QdrantClient
    from qdrant_client.http import models

# The named sparse vector of keyword (BM25) weights; the dense vector is the collection's unnamed one.
SPARSE_VECTOR_NAME = "bm25"


def _qdrant_server_hint() -> str:
    """How to start a Qdrant server on this machine: Docker when it is installed, the release binary otherwise."""
    if shutil.which("docker"):
        return " (`docker compose up -d qdrant`)"
    return " (the qdrant release binary, or Docker's `qdrant/qdrant` image on a machine with Docker)"


class QdrantVectorStore:
    """A `VectorStore` over qdrant-client. Exactly one of `url` or `path` (or `:memory:`) is used."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        path: str | Path | None = None,
        timeout_s: float = 10.0,
        client: QdrantClient | None = None,
    ):
        if client is None and not url and not path:
            raise ValueError("QdrantVectorStore needs a url, a local path, or ':memory:'.")
        self.url = url
        self.api_key = api_key
        self.path = str(path) if path is not None else None
        self.timeout_s = timeout_s
        self._client = client
        self._lock = threading.Lock()
        self._known_collections: set[str] = set()
        self._sparse_collections: dict[str, bool] = {}

    @property
    def location(self) -> str:
        return self.url or (self.path if self.path == ":memory:" else f"local folder {self.path}")

    # --- Connection ------------------------------------------------------------------------
    @property
    def client(self) -> QdrantClient:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._open()
        return self._client

    def _open(self) -> QdrantClient:
        from qdrant_client import QdrantClient

        if self.url:
            return QdrantClient(url=self.url, api_key=self.api_key, timeout=int(self.timeout_s))
        if self.path == ":memory:":
            return QdrantClient(location=":memory:")
        Path(self.path or ".").mkdir(parents=True, exist_ok=True)
        try:
            return QdrantClient(path=self.path)
        except RuntimeError as error:
            if "already accessed by another instance" in str(error):
                raise VectorStoreLockedError(
                    f"The embedded Qdrant store at {self.path} is open in another process "
                    "(for example the RAG API or a running pipeline). Embedded mode allows one process per "
                    "folder: stop that process first (`poetry run poe local-infrastructure-status` shows what "
                    "this project started), or run a Qdrant server and set QDRANT_URL so several processes "
                    f"can share it{_qdrant_server_hint()}."
                ) from error
            raise VectorStoreUnavailableError(
                f"Cannot open the embedded Qdrant store at {self.path}: {error}"
            ) from error

    def ping(self) -> None:
        self._call(lambda client: client.get_collections())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
            self._known_collections.clear()

    def _call(self, operation: Any) -> Any:
        try:
            return operation(self.client)
        except (VectorStoreUnavailableError, VectorStoreOperationError):
            raise
        except Exception as error:  # the client raises many unrelated types; translate them all here
            raise self._translate(error) from error

    def _translate(self, error: Exception) -> Exception:
        name = type(error).__name__
        message = str(error).splitlines()[0][:300] if str(error) else name
        if name in {"ResponseHandlingException", "ConnectError", "ConnectTimeout", "ReadTimeout"} or isinstance(
            error, ConnectionError | TimeoutError
        ):
            return VectorStoreUnavailableError(f"Qdrant at {self.location} is unavailable: {message}")
        return VectorStoreOperationError(f"Qdrant at {self.location}: {name}: {message}")

    # --- VectorStore -----------------------------------------------------------------------
    def collection_exists(self, collection: str) -> bool:
        if collection in self._known_collections:
            return True
        exists = bool(self._call(lambda client: client.collection_exists(collection)))
        if exists:
            self._known_collections.add(collection)
        return exists

    def ensure_collection(self, collection: str, vector_size: int | None, sparse: bool = False) -> bool:
        if self.collection_exists(collection):
            self._check_sparse(collection, sparse)
            return False
        from qdrant_client.http import models

        vectors_config: Any = (
            models.VectorParams(size=vector_size, distance=models.Distance.COSINE) if vector_size else {}
        )
        # IDF is computed by Qdrant over the stored points and kept current as they change.
        sparse_config = (
            {SPARSE_VECTOR_NAME: models.SparseVectorParams(modifier=models.Modifier.IDF)} if sparse else None
        )
        with self._lock:
            if self._call(lambda client: client.collection_exists(collection)):
                self._known_collections.add(collection)
                self._check_sparse(collection, sparse)
                return False
            self._call(
                lambda client: client.create_collection(
                    collection, vectors_config=vectors_config, sparse_vectors_config=sparse_config
                )
            )
        self._known_collections.add(collection)
        self._sparse_collections[collection] = sparse
        return True

    def _check_sparse(self, collection: str, sparse: bool) -> None:
        if sparse and not self.has_sparse_index(collection):
            raise VectorStoreSchemaError(
                f"Qdrant collection {collection!r} at {self.location} has no keyword (sparse) index: it was "
                "created by an older version. Run `poe run-feature-engineering-pipeline` once: it rebuilds the "
                "collection with the index, keeping every point."
            )

    def has_sparse_index(self, collection: str) -> bool:
        if collection not in self._sparse_collections:
            info = self._call(lambda client: client.get_collection(collection))
            self._sparse_collections[collection] = SPARSE_VECTOR_NAME in (info.config.params.sparse_vectors or {})
        return self._sparse_collections[collection]

    def upsert(self, collection: str, points: Sequence[VectorPoint]) -> None:
        from qdrant_client.http import models

        structs = [
            models.PointStruct(id=point.id, vector=_to_vectors(point), payload=point.payload) for point in points
        ]
        self._call(lambda client: client.upsert(collection_name=collection, points=structs, wait=True))

    def scroll(
        self, collection: str, limit: int, offset: str | None, filters: Filters | None, with_vectors: bool = False
    ) -> tuple[list[VectorPoint], str | None]:
        records, next_offset = self._call(
            lambda client: client.scroll(
                collection_name=collection,
                limit=limit,
                offset=offset,
                scroll_filter=_to_filter(filters),
                with_payload=True,
                with_vectors=with_vectors,
            )
        )
        return [_to_point(record) for record in records], str(next_offset) if next_offset is not None else None

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
        from qdrant_client.http import models

        query_filter = _to_filter(filters)
        if sparse_query:
            # Hybrid: each retriever proposes its best `candidates`, reciprocal rank fusion orders the union.
            fetch = max(limit, candidates or limit)
            prefetch = [
                models.Prefetch(query=list(vector), limit=fetch, filter=query_filter),
                models.Prefetch(
                    query=models.SparseVector(indices=list(sparse_query.indices), values=list(sparse_query.values)),
                    using=SPARSE_VECTOR_NAME,
                    limit=fetch,
                    filter=query_filter,
                ),
            ]
            query: Any = models.FusionQuery(fusion=models.Fusion.RRF)
        else:
            prefetch, query = None, list(vector)
        response = self._call(
            lambda client: client.query_points(
                collection_name=collection,
                prefetch=prefetch,
                query=query,
                limit=limit,
                query_filter=query_filter,
                with_payload=True,
                with_vectors=with_vectors,
            )
        )
        return [_to_point(point) for point in response.points]

    def retrieve(self, collection: str, ids: Iterable[str], with_vectors: bool = False) -> list[VectorPoint]:
        id_list = list(ids)
        if not id_list:
            return []
        records = self._call(
            lambda client: client.retrieve(collection, ids=id_list, with_payload=True, with_vectors=with_vectors)
        )
        return [_to_point(record) for record in records]

    def delete(self, collection: str, ids: Iterable[str]) -> None:
        from qdrant_client.http import models

        id_list = list(ids)
        if id_list:
            self._call(
                lambda client: client.delete(collection, points_selector=models.PointIdsList(points=id_list), wait=True)
            )

    def count(self, collection: str, filters: Filters | None = None) -> int:
        result = self._call(lambda client: client.count(collection, count_filter=_to_filter(filters), exact=True))
        return int(result.count)

    def drop_collection(self, collection: str) -> None:
        self._call(lambda client: client.delete_collection(collection))
        self._known_collections.discard(collection)
        self._sparse_collections.pop(collection, None)

    def collection_names(self) -> list[str]:
        response = self._call(lambda client: client.get_collections())
        return sorted(c.name for c in response.collections)


def _to_filter(filters: Filters | None) -> models.Filter | None:
    if not filters:
        return None
    from qdrant_client.http import models

    conditions = []
    for key, value in filters.items():
        if isinstance(value, list | tuple | set):
            match: Any = models.MatchAny(any=list(value))
        else:
            match = models.MatchValue(value=value)
        conditions.append(models.FieldCondition(key=key, match=match))
    return models.Filter(must=conditions)


def _to_vectors(point: VectorPoint) -> Any:
    """The point's vectors as qdrant-client takes them: the dense one unnamed, the sparse one by name."""
    if point.sparse_vector is None:
        return point.vector if point.vector is not None else {}
    from qdrant_client.http import models

    vectors: dict[str, Any] = {} if point.vector is None else {"": point.vector}
    if point.sparse_vector:  # Qdrant refuses empty sparse vectors; a text without terms has none
        sparse = point.sparse_vector
        vectors[SPARSE_VECTOR_NAME] = models.SparseVector(indices=list(sparse.indices), values=list(sparse.values))
    return vectors


def _to_point(record: Any) -> VectorPoint:
    vector = getattr(record, "vector", None)
    sparse = None
    if isinstance(vector, dict):  # a dense vector beside a sparse one, or payload-only collections
        raw_sparse = vector.get(SPARSE_VECTOR_NAME)
        if raw_sparse is not None:
            sparse = SparseVector(tuple(raw_sparse.indices), tuple(raw_sparse.values))
        vector = vector.get("", next((v for k, v in vector.items() if k != SPARSE_VECTOR_NAME), None))
    return VectorPoint(
        id=str(record.id),
        payload=dict(record.payload or {}),
        vector=list(vector) if vector is not None else None,
        score=getattr(record, "score", None),
        sparse_vector=sparse,
    )
