"""ContextRetriever: self-query -> query expansion -> filtered search per collection, in parallel ->
fusion across queries -> rerank against the original query -> document ranking -> top k (passages
repeating a better one, such as a second copy of a cross-posted article, left out: `copies`).

Search is hybrid by default: the dense embedding and a BM25 keyword vector each propose candidates and
Qdrant fuses them by reciprocal rank, so queries that share words but not phrasing with a passage (names,
acronyms, code identifiers) still find it. With `search_mode="dense"` it is the book's vector search.

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
from typing import Literal

from loguru import logger

from llm_engineering.application.ports import Embedder
from llm_engineering.application.rag.copies import drop_copies
from llm_engineering.application.rag.fusion import ScoredChunk, rank_by_document, reciprocal_rank_fusion
from llm_engineering.application.rag.query_expansion import QueryExpansion
from llm_engineering.application.rag.reranking import EmbeddingReranker, Reranker, rerank
from llm_engineering.application.rag.self_query import SelfQuery
from llm_engineering.domain.base.vector import VectorIndex
from llm_engineering.domain.embedded_chunks import (
    EmbeddedArticleChunk,
    EmbeddedChunk,
    EmbeddedPostChunk,
    EmbeddedRepositoryChunk,
)
from llm_engineering.domain.exceptions import VectorStoreOperationError, VectorStoreUnavailableError
from llm_engineering.domain.queries import Query, Source
from llm_engineering.domain.sparse_text import query_vector as keyword_vector

SEARCHED_CLASSES: tuple[type[EmbeddedChunk], ...] = (EmbeddedPostChunk, EmbeddedArticleChunk, EmbeddedRepositoryChunk)
MAX_SEARCH_THREADS = 8
# How long the list of existing collections is trusted before it is read again (a server may gain one).
COLLECTIONS_TTL_S = 60.0
SearchMode = Literal["hybrid", "dense"]
# Candidates each of dense and keyword search propose per query and collection before fusion.
HYBRID_CANDIDATES = 40
# Chunks per query that fusion, reranking and document ranking choose the k from (at least the budget).
CANDIDATE_POOL = 20

__all__ = ["ContextRetriever", "RetrievalResult", "ScoredChunk", "group_sources"]


@dataclass
class RetrievalResult:
    chunks: list[ScoredChunk]
    trace: dict = field(default_factory=dict)

    @property
    def documents(self) -> list[EmbeddedChunk]:
        return [item.chunk for item in self.chunks]

    def sources(self) -> list[Source]:
        """The retrieved chunks grouped per document, best document first, numbered (see `group_sources`)."""
        return group_sources(self.chunks)


def group_sources(chunks: Sequence[ScoredChunk]) -> list[Source]:
    """One `Source` per document, numbered from 1 in the order the chunks rank them (the retriever's final
    order, which may rank documents by several chunks): its best chunk's score, all its chunk ids (in rank
    order) and every link of the document. `citations.context_blocks` gives the prompt blocks in the same
    order, so a source's number is the `[n]` that cites it."""
    groups: dict[str, list[ScoredChunk]] = {}
    for item in chunks:
        groups.setdefault(str(item.chunk.document_id), []).append(item)
    sources = []
    for number, (document_id, items) in enumerate(groups.items(), start=1):
        best = max(items, key=lambda scored: scored.score).chunk
        link = getattr(best, "link", None)
        sources.append(
            Source(
                number=number,
                document_id=document_id,
                category=best.get_category().value,
                author=best.author_full_name,
                platform=best.platform,
                link=link,
                links=list(dict.fromkeys([*([link] if link else []), *best.links])),
                score=round(max(item.score for item in items), 4),
                chunk_ids=[str(item.chunk.id) for item in items],
            )
        )
    return sources


class ContextRetriever:
    """Retrieves the k passages of an author's writing most relevant to a query, from the feature store."""

    def __init__(
        self,
        index: VectorIndex,
        embedder: Embedder,
        reranker: Reranker,
        self_query: SelfQuery,
        query_expansion: QueryExpansion,
        searched_classes: Sequence[type[EmbeddedChunk]] = SEARCHED_CLASSES,
        collections_ttl_s: float = COLLECTIONS_TTL_S,
        search_mode: SearchMode = "hybrid",
        hybrid_candidates: int = HYBRID_CANDIDATES,
        candidate_pool: int = CANDIDATE_POOL,
        document_support_weight: float | None = None,
    ):
        """`index` is the feature store searched. `document_support_weight` None keeps the reranker's chunk
        order; a number ranks documents by their best chunk plus that weight times their other chunks (see
        `fusion.rank_by_document`)."""
        if search_mode not in ("hybrid", "dense"):
            raise ValueError(f"search_mode must be hybrid or dense, not {search_mode!r}")
        if hybrid_candidates < 1 or candidate_pool < 1:
            raise ValueError("hybrid_candidates and candidate_pool must be >= 1")
        self.index = index
        self.embedder = embedder
        self.reranker = reranker
        self.self_query = self_query
        self.query_expansion = query_expansion
        self.search_mode: SearchMode = search_mode
        self.hybrid_candidates = hybrid_candidates
        self.candidate_pool = candidate_pool
        self.document_support_weight = document_support_weight
        self.searched_classes = tuple(searched_classes)
        self.collections = CollectionState(index, self.searched_classes, ttl_s=collections_ttl_s)

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
        rankings, searched, query_vector, modes = self._search_all(
            queries, max(budget, self.candidate_pool), query_model
        )
        timings["search_s"] = time.perf_counter() - started

        started = time.perf_counter()
        candidates = [item for ranking in rankings for item in ranking]
        hybrid = "hybrid" in modes.values()
        fused = reciprocal_rank_fusion(rankings) if hybrid else _best_per_chunk(candidates)
        ranked, reranker_name = self._rerank(query_model.content, query_vector, fused, hybrid)
        if self.document_support_weight is not None:
            ranked = rank_by_document(ranked, self.document_support_weight)
        # Two copies of one article (a store built before copies were folded) never share a prompt.
        ranked, copies_dropped = drop_copies(ranked, limit=k)
        timings["rerank_s"] = time.perf_counter() - started

        trace = {
            "query": query_model.content,
            "author_id": str(query_model.author_id) if query_model.author_id else None,
            "author_full_name": query_model.author_full_name,
            "self_query": self_query_report,
            "query_expansion": expansion,
            "queries": [q.content for q in queries],
            "collections": searched,
            "search": modes,
            "num_candidates": len(candidates),
            "num_unique_candidates": len(fused),
            "num_chunks": len(ranked),
            "num_documents": len({item.chunk.document_id for item in ranked}),
            "copies_dropped": copies_dropped,
            "reranker": reranker_name,
            "document_ranking": self.document_support_weight is not None,
            "embedding_model_id": self.embedder.model_id,
            # Which retrieval paths ran, in one line each (the details are above).
            "paths": {
                "self_query": _path(self_query_report),
                "query_expansion": _path(expansion),
                "search": _search_path(self.search_mode, modes),
                "reranker": reranker_name,
            },
            "timings": {key: round(value, 4) for key, value in timings.items()},
        }
        logger.info(
            "Retrieved {} chunks for {} queries ({} search, author filter: {}, reranker: {})",
            len(ranked),
            len(queries),
            trace["paths"]["search"],
            query_model.author_full_name or "none",
            reranker_name,
        )
        return RetrievalResult(chunks=ranked, trace=trace)

    def _rerank(
        self, query: str, query_vector: list[float] | None, candidates: list[ScoredChunk], hybrid: bool
    ) -> tuple[list[ScoredChunk], str]:
        """All candidates, best first by the reranker, and the name of what ordered them.

        The bi-encoder reranker reuses the vectors the search returned with the chunks (the same cosine as
        re-embedding the passages, at a fraction of the cost). After hybrid search it is skipped: it would
        re-sort by the dense similarity alone and undo what the keyword match contributed; a cross-encoder
        reads query and passage together and does rerank fused candidates."""
        chunks = [item.chunk for item in candidates]
        if isinstance(self.reranker, EmbeddingReranker):
            if hybrid:
                return list(candidates), "fusion (dense + keyword)"
            if (
                chunks
                and query_vector is not None
                and all(len(chunk.embedding or []) == len(query_vector) for chunk in chunks)
            ):
                scores = self.reranker.score_vectors(query_vector, [chunk.embedding or [] for chunk in chunks])
                ordered = sorted(zip(chunks, scores, strict=True), key=lambda pair: pair[1], reverse=True)
                return [ScoredChunk(chunk, score) for chunk, score in ordered], self.reranker.name
        ordered = rerank(self.reranker, query, chunks, [chunk.content for chunk in chunks], max(1, len(chunks)))
        return [ScoredChunk(chunk, score) for chunk, score in ordered], self.reranker.name

    def _search_all(
        self, queries: list[Query], budget: int, query_model: Query
    ) -> tuple[list[list[ScoredChunk]], dict[str, int], list[float] | None, dict[str, str]]:
        """Search every existing collection with every query; keep each query's best `budget / queries` hits.

        Returns one ranking per query, the hits kept per collection, the original query's dense vector and
        the search each collection ran ("hybrid", or "dense" for collections without a keyword index).
        Collections without points for the filter simply return nothing, so no per-request counts are
        needed to split the budget: the best hits of one query win across collections, by score.
        """
        filters = {"author_id": str(query_model.author_id)} if query_model.author_id else {}
        active = self.collections.existing()
        searched = {cls.get_collection_name(): 0 for cls in active}
        if not active:
            return [], searched, None, {}
        hybrid = self.search_mode == "hybrid"
        modes = {
            cls.get_collection_name(): "hybrid" if hybrid and self.index.has_sparse_index(cls) else "dense"
            for cls in active
        }
        per_query = max(1, math.ceil(budget / len(queries)))
        vectors = self.embedder.embed([q.content for q in queries])
        keywords = [keyword_vector(q.content) if hybrid else None for q in queries]
        tasks = [(number, cls) for number in range(len(vectors)) for cls in active]

        def search(task: tuple[int, type[EmbeddedChunk]]) -> list[tuple[EmbeddedChunk, float]]:
            number, cls = task
            return self.index.search_with_scores(
                cls,
                vectors[number],
                limit=per_query,
                with_vectors=True,
                sparse_query=keywords[number],
                candidates=max(per_query, self.hybrid_candidates),
                **filters,
            )

        try:
            with ThreadPoolExecutor(max_workers=min(MAX_SEARCH_THREADS, len(tasks))) as pool:
                results = list(pool.map(search, tasks))
        except (VectorStoreOperationError, VectorStoreUnavailableError):
            self.collections.invalidate()  # e.g. a collection was dropped: read the list again next time
            raise
        per_query_hits: dict[int, list[ScoredChunk]] = {number: [] for number in range(len(vectors))}
        for (number, _), hits in zip(tasks, results, strict=True):
            per_query_hits[number].extend(ScoredChunk(chunk, score) for chunk, score in hits)
        rankings: list[list[ScoredChunk]] = []
        for hits in per_query_hits.values():
            best = sorted(hits, key=lambda item: item.score, reverse=True)[:per_query]
            for item in best:
                searched[item.chunk.get_collection_name()] += 1
            rankings.append(best)
        return rankings, searched, vectors[0], modes


def _best_per_chunk(candidates: Sequence[ScoredChunk]) -> list[ScoredChunk]:
    """Candidates found by several queries kept once, with their best score."""
    best: dict[str, ScoredChunk] = {}
    for item in candidates:
        key = str(item.chunk.id)
        if key not in best or item.score > best[key].score:
            best[key] = item
    return sorted(best.values(), key=lambda item: item.score, reverse=True)


def _search_path(mode: SearchMode, modes: dict[str, str]) -> str:
    """One line for the trace: "hybrid", "dense", or why hybrid fell back to dense."""
    if mode == "dense" or not modes:
        return mode
    fallback = sorted(name for name, ran in modes.items() if ran != "hybrid")
    return (
        "hybrid" if not fallback else f"dense for {', '.join(fallback)}: no keyword index (re-run the feature pipeline)"
    )


def _path(report: dict) -> str:
    """`status` or `status: reason` of a step's report, e.g. "skipped: disabled by configuration"."""
    status = str(report.get("status", "unknown"))
    return f"{status}: {report['reason']}" if report.get("reason") else status


class CollectionState:
    """Which searched collections exist in `index`, read once and trusted for `ttl_s` (or until `invalidate()`)."""

    def __init__(self, index: VectorIndex, classes: Sequence[type[EmbeddedChunk]], ttl_s: float = COLLECTIONS_TTL_S):
        self.index = index
        self.classes = tuple(classes)
        self.ttl_s = ttl_s
        self._existing: tuple[type[EmbeddedChunk], ...] | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def existing(self) -> tuple[type[EmbeddedChunk], ...]:
        with self._lock:
            stale = self._existing is None or time.monotonic() - self._read_at > self.ttl_s
            if stale:
                self._existing = tuple(cls for cls in self.classes if self.index.collection_exists(cls))
                self._read_at = time.monotonic()
            return self._existing or ()

    def invalidate(self) -> None:
        with self._lock:
            self._existing = None
