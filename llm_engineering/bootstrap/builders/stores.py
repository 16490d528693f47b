"""Builders of the stores and the embedding models: settings -> one adapter each."""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from llm_engineering.domain.documents import WAREHOUSE_DOCUMENT_CLASSES
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.settings import Settings

if TYPE_CHECKING:
    from llm_engineering.application.ports import Embedder
    from llm_engineering.application.rag.reranking import Reranker
    from llm_engineering.domain.base.ports import DocumentWarehouse, VectorStore
    from llm_engineering.infrastructure.threads import ProcessKind


# --- Builders: settings -> one adapter each -------------------------------------------------------------
def build_warehouse(settings: Settings) -> DocumentWarehouse:
    from llm_engineering.infrastructure.db.mongo import MongoWarehouse

    unique = {cls.get_collection_name(): cls.unique_fields() for cls in WAREHOUSE_DOCUMENT_CLASSES}
    return MongoWarehouse(
        settings.DATABASE_HOST,
        settings.DATABASE_NAME,
        timeout_s=settings.DATABASE_TIMEOUT_S,
        unique_fields={name: fields for name, fields in unique.items() if fields},
    )


def build_vector_store(settings: Settings) -> VectorStore:
    from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore

    if settings.qdrant_mode == "local":
        return QdrantVectorStore(path=settings.qdrant_local_path)
    api_key = settings.QDRANT_APIKEY.get_secret_value() if settings.QDRANT_APIKEY else None
    return QdrantVectorStore(url=settings.qdrant_server_url, api_key=api_key)


@functools.cache
def _shared_embedder(model_id: str, device: str, batch_size: int, backend: str, cache_dir: Path) -> Embedder:
    # One model per configuration and process: re-configuring (tests, a reloaded API) never loads it twice.
    from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder

    def torch_embedder() -> Embedder:
        bf16 = backend == "torch-bf16"
        return SentenceTransformerEmbedder(model_id=model_id, device=device, batch_size=batch_size, bf16=bf16)

    if backend in ("torch", "torch-bf16"):
        return torch_embedder()
    from llm_engineering.infrastructure.openvino_embeddings import OpenVINOEmbedder, openvino_installed

    unavailable = None
    if device != "cpu":
        unavailable = f"RAG_MODEL_DEVICE={device} (the OpenVINO embedder runs on the CPU)"
    elif not openvino_installed():
        unavailable = "the openvino package is not installed"
    if unavailable and backend == "openvino":
        raise ImproperlyConfigured(f"EMBEDDING_BACKEND=openvino, but {unavailable}; use torch or auto.")
    if unavailable:
        logger.info("Embedding backend: torch, as {}", unavailable)
        return torch_embedder()
    # auto: a model that does not export, or an export that does not run, hands over to torch (logged once).
    fallback = torch_embedder if backend == "auto" else None
    return OpenVINOEmbedder(model_id, cache_dir=cache_dir, batch_size=batch_size, fallback=fallback)


def build_embedder(settings: Settings) -> Embedder:
    """The process-wide embedder for these settings (not loaded until first used): EMBEDDING_BACKEND's."""
    return _shared_embedder(
        settings.TEXT_EMBEDDING_MODEL_ID,
        settings.RAG_MODEL_DEVICE,
        settings.EMBEDDING_BATCH_SIZE,
        settings.EMBEDDING_BACKEND,
        settings.embedding_cache_dir,
    )


def use_embedding_threads(settings: Settings, kind: ProcessKind) -> int:
    """Set the threads that encode text in this process, by its kind: `query` (the API, CLI query tools,
    latency benches: 1) or `batch` (every core); EMBEDDING_THREADS > 0 overrides. Imports no model library
    (applied when torch is imported). Returns the number."""
    from llm_engineering.infrastructure.threads import use_embedding_threads as use_threads

    return use_threads(kind, settings.EMBEDDING_THREADS)


def embedding_threads_for(settings: Settings, kind: ProcessKind) -> AbstractContextManager[int]:
    """`with` block form of `use_embedding_threads`: the number before is restored at its end (batch work
    inside a query process, such as the feature pipeline run from the API's web UI)."""
    from llm_engineering.infrastructure.threads import embedding_threads_for as threads_for

    return threads_for(kind, settings.EMBEDDING_THREADS)


def build_reranker(settings: Settings, embedder: Embedder) -> Reranker:
    """The reranker RERANKER asks for: `auto` (cross-encoder if resolvable offline, else bi-encoder) or a fixed one."""
    from llm_engineering.application.rag.reranking import EmbeddingReranker

    model_id = settings.RERANKING_CROSS_ENCODER_MODEL_ID
    if settings.RERANKER in ("auto", "cross-encoder"):
        from llm_engineering.infrastructure.cross_encoder import CrossEncoderReranker, resolve_cross_encoder

        source = resolve_cross_encoder(model_id)
        if source is not None:
            logger.info("Reranker: cross-encoder {} from {}", model_id, source)
            return CrossEncoderReranker(model_id, source, device=settings.RAG_MODEL_DEVICE)
        if settings.RERANKER == "cross-encoder":
            raise ImproperlyConfigured(
                f"RERANKER=cross-encoder but the weights of {model_id!r} are not available locally; set "
                "RERANKING_CROSS_ENCODER_MODEL_ID to a local folder, fill the Hugging Face cache, or use RERANKER=auto."
            )
        logger.info("Reranker: {} is not available offline; re-scoring with the bi-encoder instead", model_id)
    return EmbeddingReranker(embedder)
