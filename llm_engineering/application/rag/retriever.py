"""ContextRetriever: self-query -> query expansion -> filtered vector search per collection, in parallel ->
de-duplication -> rerank against the original query -> top k.

`search()` returns the chunks (the book's interface); `search_with_trace()` also returns the scores and a
trace of every decision (author filter, expansion fallback, reranker used, counts, timings).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from loguru import logger

from llm_engineering.application.ports import Embedder
from llm_engineering.application.rag.query_expansion import QueryExpansion
from llm_engineering.application.rag.reranking import EmbeddingReranker, Reranker, rerank
from llm_engineering.application.rag.self_query import SelfQuery
from llm_engineering.domain.embedded_chunks import (
    EmbeddedArticleChunk,
    EmbeddedChunk,
    EmbeddedPostChunk,
    EmbeddedRepositoryChunk,
)
from llm_engineering.domain.exceptions import VectorStoreOperationError, VectorStoreUnavailableError
from llm_engineering.domain.queries import Query, Source

SEARCHED_CLASSES: tuple[type[EmbeddedChunk], ...] = (EmbeddedPostChunk, EmbeddedArticleChunk, EmbeddedRepositoryChunk)
MAX_SEARCH_THREADS = 8
# How long the list of existing collections is trusted before it is read again (a server may gain one).
COLLECTIONS_TTL_S = 60.0


@dataclass(frozen=True)
class ScoredChunk:
    chunk: EmbeddedChunk
    score: float


@dataclass
class RetrievalResult:
    chunks: list[ScoredChunk]
    trace: dict = field(default_factory=dict)

    @property
    def documents(self) -> list[EmbeddedChunk]:
        return [item.chunk for item in self.chunks]

    def sources(self, passage_numbers: dict[str, int] | None = None) -> list[Source]:
        """The retrieved chunks grouped per document, best document first (see `group_sources`)."""
        return group_sources(self.chunks, passage_numbers)


def group_sources(chunks: Sequence[ScoredChunk], passage_numbers: dict[str, int] | None = None) -> list[Source]:
    """One `Source` per document: its best chunk's score, all its chunk ids (best first) and, when given,
    the prompt numbers of its chunks (`passage_numbers`: chunk id -> number)."""
    numbers = passage_numbers or {}
    groups: dict[str, list[ScoredChunk]] = {}
    for item in sorted(chunks, key=lambda scored: scored.score, reverse=True):
        groups.setdefault(str(item.chunk.document_id), []).append(item)
    sources = []
    for document_id, items in groups.items():
        best = items[0].chunk
        chunk_ids = [str(item.chunk.id) for item in items]
        sources.append(
            Source(
                document_id=document_id,
                category=best.get_category().value,
                author=best.author_full_name,
                platform=best.platform,
                link=getattr(best, "link", None),
                score=round(items[0].score, 4),
                chunk_ids=chunk_ids,
                passages=sorted(numbers[chunk_id] for chunk_id in chunk_ids if chunk_id in numbers),
            )
        )
    return sources


class ContextRetriever:
    """Retrieves the k passages of an author's writing most relevant to a query."""

    def __init__(
        self,
        embedder: Embedder,
        reranker: Reranker,
        self_query: SelfQuery,
        query_expansion: QueryExpansion,
        searched_classes: Sequence[type[EmbeddedChunk]] = SEARCHED_CLASSES,
        collections_ttl_s: float = COLLECTIONS_TTL_S,
    ):
        self.embedder = embedder
        self.reranker = reranker
        self.self_query = self_query
        self.query_expansion = query_expansion
        self.searched_classes = tuple(searched_classes)
        self.collections = CollectionState(self.searched_classes, ttl_s=collections_ttl_s)

    def probe_capabilities(self) -> dict[str, str]:
        """Decide now (e.g. at service start) whether self-query and expansion run; returns the reasons."""
        return {
            "self_query": self.self_query.capability.decide().reason,
            "query_expansion": self.query_expansion.capability.decide().reason,
        }

    def search(self, query: str, k: int = 3, expand_to_n_queries: int = 3) -> list[EmbeddedChunk]:
        """The k best chunks for `query` (empty when the store holds nothing relevant)."""
        return self.search_with_trace(query, k, expand_to_n_queries).documents

    def search_with_trace(self, query: str, k: int = 3, expand_to_n_queries: int = 3) -> RetrievalResult:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if expand_to_n_queries < 1:
            raise ValueError(f"expand_to_n_queries must be >= 1, got {expand_to_n_queries}")
        query_model = Query.from_str(query)
        if not query_model.content:
            raise ValueError("the query is empty")
        timings: dict[str, float] = {}

        started = time.perf_counter()
        query_model = self.self_query.generate(query_model)
        timings["self_query_s"] = time.perf_counter() - started
        self_query_report = dict(query_model.metadata.get("self_query", {}))

        started = time.perf_counter()
        if self_query_report.get("llm_unavailable"):
            # Do not wait for the same dead LLM twice in one request.
            queries, expansion = [query_model], {"requested": expand_to_n_queries, "status": "fallback"}
            expansion["reason"] = "LLM unavailable (self-query failed)"
        else:
            queries, report = self.query_expansion.generate(query_model, expand_to_n_queries)
            expansion = report.as_dict()
        timings["query_expansion_s"] = time.perf_counter() - started

        started = time.perf_counter()
        # The reranker chooses from about N x k candidates (the book's budget), also when expansion fell
        # back to fewer queries: each query then fetches more.
        budget = k * expand_to_n_queries
        candidates, searched, query_vector = self._search_all(queries, budget, query_model)
        timings["search_s"] = time.perf_counter() - started

        started = time.perf_counter()
        unique = list({item.chunk.id: item for item in candidates}.values())
        ranked = self._rerank(query_model.content, query_vector, [c.chunk for c in unique], k)
        timings["rerank_s"] = time.perf_counter() - started

        trace = {
            "query": query_model.content,
            "author_id": str(query_model.author_id) if query_model.author_id else None,
            "author_full_name": query_model.author_full_name,
            "self_query": self_query_report,
            "query_expansion": expansion,
            "queries": [q.content for q in queries],
            "collections": searched,
            "num_candidates": len(candidates),
            "num_unique_candidates": len(unique),
            "num_chunks": len(ranked),
            "num_documents": len({chunk.document_id for chunk, _ in ranked}),
            "reranker": self.reranker.name,
            "embedding_model_id": self.embedder.model_id,
            # Which retrieval paths ran, in one line each (the details are above).
            "paths": {
                "self_query": _path(self_query_report),
                "query_expansion": _path(expansion),
                "reranker": self.reranker.name,
            },
            "timings": {key: round(value, 4) for key, value in timings.items()},
        }
        logger.info(
            "Retrieved {} chunks for {} queries (author filter: {}, reranker: {})",
            len(ranked),
            len(queries),
            query_model.author_full_name or "none",
            self.reranker.name,
        )
        return RetrievalResult(chunks=[ScoredChunk(chunk, score) for chunk, score in ranked], trace=trace)

    def _rerank(
        self, query: str, query_vector: list[float] | None, chunks: list[EmbeddedChunk], k: int
    ) -> list[tuple[EmbeddedChunk, float]]:
        """Top k by the reranker. The bi-encoder reranker reuses the vectors the search returned with the
        chunks, which gives the same cosine scores as re-embedding the passages at a fraction of the cost."""
        reusable = chunks and query_vector is not None and isinstance(self.reranker, EmbeddingReranker)
        if reusable and all(len(chunk.embedding or []) == len(query_vector or []) for chunk in chunks):
            scores = self.reranker.score_vectors(query_vector or [], [chunk.embedding or [] for chunk in chunks])
            return sorted(zip(chunks, scores, strict=True), key=lambda pair: pair[1], reverse=True)[:k]
        return rerank(self.reranker, query, chunks, [chunk.content for chunk in chunks], k)

    def _search_all(
        self, queries: list[Query], budget: int, query_model: Query
    ) -> tuple[list[ScoredChunk], dict[str, int], list[float] | None]:
        """Search every existing collection with every query; keep each query's best `budget / queries` hits.

        Collections without points for the filter simply return nothing, so no per-request counts are
        needed to split the budget: the best hits of one query win across collections, by score.
        """
        filters = {"author_id": str(query_model.author_id)} if query_model.author_id else {}
        active = self.collections.existing()
        searched = {cls.get_collection_name(): 0 for cls in active}
        if not active:
            return [], searched, None
        per_query = max(1, math.ceil(budget / len(queries)))
        vectors = self.embedder.embed([q.content for q in queries])
        tasks = [(index, cls, vector) for index, vector in enumerate(vectors) for cls in active]
        try:
            with ThreadPoolExecutor(max_workers=min(MAX_SEARCH_THREADS, len(tasks))) as pool:
                results = list(
                    pool.map(
                        lambda task: task[1].search_with_scores(task[2], limit=per_query, with_vectors=True, **filters),
                        tasks,
                    )
                )
        except (VectorStoreOperationError, VectorStoreUnavailableError):
            self.collections.invalidate()  # e.g. a collection was dropped: read the list again next time
            raise
        per_query_hits: dict[int, list[ScoredChunk]] = {index: [] for index in range(len(vectors))}
        for (index, _, _), hits in zip(tasks, results, strict=True):
            per_query_hits[index].extend(ScoredChunk(chunk, score) for chunk, score in hits)
        found: list[ScoredChunk] = []
        for hits in per_query_hits.values():
            best = sorted(hits, key=lambda item: item.score, reverse=True)[:per_query]
            for item in best:
                searched[item.chunk.get_collection_name()] += 1
            found.extend(best)
        return found, searched, vectors[0]


def _path(report: dict) -> str:
    """`status` or `status: reason` of a step's report, e.g. "skipped: disabled by configuration"."""
    status = str(report.get("status", "unknown"))
    return f"{status}: {report['reason']}" if report.get("reason") else status


class CollectionState:
    """Which searched collections exist, read once and trusted for `ttl_s` (or until `invalidate()`)."""

    def __init__(self, classes: Sequence[type[EmbeddedChunk]], ttl_s: float = COLLECTIONS_TTL_S):
        self.classes = tuple(classes)
        self.ttl_s = ttl_s
        self._existing: tuple[type[EmbeddedChunk], ...] | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def existing(self) -> tuple[type[EmbeddedChunk], ...]:
        with self._lock:
            stale = self._existing is None or time.monotonic() - self._read_at > self.ttl_s
            if stale:
                self._existing = tuple(cls for cls in self.classes if cls.collection_exists())
                self._read_at = time.monotonic()
            return self._existing or ()

    def invalidate(self) -> None:
        with self._lock:
            self._existing = None
