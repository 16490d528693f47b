"""Composition root helpers: build the real adapters from settings and bind them to the domain.

Entry points (tools, ZenML steps, the API factory) call `configure()`; tests bind their own adapters.
Nothing here connects until a document is actually read or written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llm_engineering.domain.base import nosql, vector
from llm_engineering.domain.base.nosql import bind_warehouse
from llm_engineering.domain.base.vector import bind_vector_store
from llm_engineering.domain.documents import WAREHOUSE_DOCUMENT_CLASSES
from llm_engineering.settings import Settings, get_settings

if TYPE_CHECKING:
    from llm_engineering.domain.base.ports import DocumentWarehouse, VectorStore
    from llm_engineering.infrastructure.db.mongo import MongoWarehouse
    from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore


def build_warehouse(settings: Settings) -> MongoWarehouse:
    from llm_engineering.infrastructure.db.mongo import MongoWarehouse

    unique = {cls.get_collection_name(): cls.unique_fields() for cls in WAREHOUSE_DOCUMENT_CLASSES}
    return MongoWarehouse(
        settings.DATABASE_HOST,
        settings.DATABASE_NAME,
        timeout_s=settings.DATABASE_TIMEOUT_S,
        unique_fields={name: fields for name, fields in unique.items() if fields},
    )


def build_vector_store(settings: Settings) -> QdrantVectorStore:
    from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore

    api_key = settings.QDRANT_APIKEY.get_secret_value() if settings.QDRANT_APIKEY else None
    if settings.qdrant_mode == "local":
        return QdrantVectorStore(path=settings.qdrant_local_path)
    return QdrantVectorStore(url=settings.qdrant_server_url, api_key=api_key)


_configured: dict[str, object] = {}


def configure(
    settings: Settings | None = None,
    warehouse: DocumentWarehouse | None = None,
    vector_store: VectorStore | None = None,
) -> tuple[DocumentWarehouse, VectorStore]:
    """Bind the warehouse and vector store the domain documents use; idempotent per process.

    Explicit adapters win; otherwise the ones already bound (by an earlier call or a test) are reused,
    else they are built from settings.
    """
    chosen_warehouse = warehouse or nosql._binding.get("warehouse")
    chosen_store = vector_store or vector._binding.get("store")
    if chosen_warehouse is None or chosen_store is None:
        settings = settings or get_settings()
        chosen_warehouse = chosen_warehouse or build_warehouse(settings)
        chosen_store = chosen_store or build_vector_store(settings)
    _configured["warehouse"] = chosen_warehouse
    _configured["vector_store"] = chosen_store
    bind_warehouse(chosen_warehouse)  # type: ignore[arg-type]
    bind_vector_store(chosen_store)  # type: ignore[arg-type]
    return chosen_warehouse, chosen_store  # type: ignore[return-value]


def reset() -> None:
    """Close and unbind the configured adapters (tests, and processes handing the Qdrant folder on)."""
    for adapter in _configured.values():
        close = getattr(adapter, "close", None)
        if callable(close):
            close()
    _configured.clear()
    bind_warehouse(None)
    bind_vector_store(None)
