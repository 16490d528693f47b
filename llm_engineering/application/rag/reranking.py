"""Reranking: score (original query, candidate) pairs and keep the best k.

The book's cross-encoder (`cross-encoder/ms-marco-MiniLM-L-4-v2`) runs when its weights resolve locally
(a folder, or the Hugging Face cache). No package ships it, so offline the default is an honest
alternative: the candidates, found by several expanded queries, are re-scored by cosine similarity
to the *original* query with the same bi-encoder used for retrieval. `Reranker.name` says which ran.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

from loguru import logger

from llm_engineering.application.ports import Embedder
from llm_engineering.domain.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

    from llm_engineering.settings import Settings

T = TypeVar("T")


@runtime_checkable
class Reranker(Protocol):
    @property
    def name(self) -> str: ...

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        """One relevance score per text, higher is better."""
        ...


def rerank(
    reranker: Reranker, query: str, items: Sequence[T], texts: Sequence[str], keep_top_k: int
) -> list[tuple[T, float]]:
    """The `keep_top_k` items with the best scores for `query`, best first, with their scores."""
    if keep_top_k < 1:
        raise ValueError("keep_top_k must be >= 1")
    if not items:
        return []
    scores = reranker.score(query, list(texts))
    ranked = sorted(zip(items, scores, strict=True), key=lambda pair: pair[1], reverse=True)
    return ranked[:keep_top_k]


class EmbeddingReranker:
    """Cosine similarity between the original query and each candidate, with the retrieval bi-encoder."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder

    @property
    def name(self) -> str:
        return f"bi-encoder:{self.embedder.model_id}"

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        vectors = self.embedder.embed([query, *texts])
        return self.score_vectors(vectors[0], vectors[1:])

    @staticmethod
    def score_vectors(query_vector: Sequence[float], vectors: Sequence[Sequence[float]]) -> list[float]:
        """Cosine of unit-length vectors (the Embedder contract), i.e. their dot product."""
        return [float(sum(a * b for a, b in zip(query_vector, vector, strict=True))) for vector in vectors]


class CrossEncoderReranker:
    """A sentence-transformers cross-encoder from a local folder; scores squashed to 0..1 with a sigmoid."""

    def __init__(self, model_id: str, source: str, device: str = "cpu"):
        self.model_id = model_id
        self.source = source
        self.device = device
        self._model: CrossEncoder | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"cross-encoder:{self.model_id}"

    def _load(self) -> CrossEncoder:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import CrossEncoder

                    self._model = CrossEncoder(self.source, device=self.device)
                    self._model.model.eval()
        return self._model

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        model = self._load()
        with self._lock:  # one forward pass at a time: the tokenizer is not thread-safe
            logits = model.predict([(query, text) for text in texts], show_progress_bar=False)
        # ms-marco cross-encoders return raw logits; the sigmoid gives the 0..1 scores the book describes.
        return [1.0 / (1.0 + math.exp(-float(value))) for value in logits]


def resolve_cross_encoder(model_id: str) -> str | None:
    """A local source for the cross-encoder: an existing folder, or a complete hub-cache snapshot; else None."""
    candidate = Path(model_id).expanduser()
    if candidate.is_dir() and (candidate / "config.json").is_file():
        return str(candidate.resolve())
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(model_id, local_files_only=True)
    except Exception:  # noqa: BLE001 - any miss (not cached, offline, bad id) means "not resolvable locally"
        return None
    return path if (Path(path) / "config.json").is_file() else None


def build_reranker(settings: Settings, embedder: Embedder) -> Reranker:
    """The reranker RERANKER asks for: `auto` (cross-encoder if resolvable, else bi-encoder), or a fixed one."""
    choice = settings.RERANKER
    model_id = settings.RERANKING_CROSS_ENCODER_MODEL_ID
    if choice in ("auto", "cross-encoder"):
        source = resolve_cross_encoder(model_id)
        if source is not None:
            logger.info("Reranker: cross-encoder {} from {}", model_id, source)
            return CrossEncoderReranker(model_id, source, device=settings.RAG_MODEL_DEVICE)
        if choice == "cross-encoder":
            raise ImproperlyConfigured(
                f"RERANKER=cross-encoder but the weights of {model_id!r} are not available locally; set "
                "RERANKING_CROSS_ENCODER_MODEL_ID to a local folder, fill the Hugging Face cache, or use RERANKER=auto."
            )
        logger.info("Reranker: {} is not available offline; re-scoring with the bi-encoder instead", model_id)
    return EmbeddingReranker(embedder)
