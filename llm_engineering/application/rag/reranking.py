"""Reranking: score (original query, candidate) pairs and keep the best k.

The book's cross-encoder (`cross-encoder/ms-marco-MiniLM-L-4-v2`, adapter in
`infrastructure/cross_encoder.py`) runs when its weights resolve locally. No package ships it, so
offline the default is an honest alternative: the candidates, found by several expanded queries, are
re-scored by cosine similarity to the *original* query with the same bi-encoder used for retrieval.
`Reranker.name` says which ran; `llm_engineering.bootstrap` chooses one from settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar, runtime_checkable

from llm_engineering.application.ports import Embedder

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
