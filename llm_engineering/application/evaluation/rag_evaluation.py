"""RAG retrieval evaluation: run a retriever over a labelled query set and score it per query, overall,
per query type and per category, with latency percentiles.

The retriever is any callable from a query to ranked document ids (one per retrieved chunk, best first),
so the real `ContextRetriever` and experimental variants are scored the same way.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from llm_engineering.application.evaluation.labelled_queries import LabelledQuery
from llm_engineering.application.evaluation.retrieval_metrics import QueryScores, aggregate, aggregate_by, score_query

DocumentSearch = Callable[[str], Sequence[str]]


@dataclass(frozen=True)
class QueryResult:
    """One labelled query: the retrieved document ids (chunk order), its scores and the search time."""

    query: LabelledQuery
    hits: tuple[str, ...]
    scores: QueryScores
    seconds: float


@dataclass
class RetrievalEvaluation:
    """Per-query results and their aggregates; `k` is the recall/nDCG/precision cut-off, `mrr_k` MRR's."""

    results: list[QueryResult]
    k: int
    mrr_k: int
    overall: dict[str, float] = field(default_factory=dict)
    by_query_type: dict[str, dict[str, float]] = field(default_factory=dict)
    by_category: dict[str, dict[str, float]] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)

    def misses(self) -> list[QueryResult]:
        """Queries whose relevant documents are all outside the first `k` documents."""
        return [result for result in self.results if result.scores.recall == 0.0]


def evaluate_retrieval(
    search: DocumentSearch, queries: Sequence[LabelledQuery], k: int = 5, mrr_k: int = 10, progress: bool = True
) -> RetrievalEvaluation:
    """Run `search` on every query (in order) and score it; raises ValueError for an empty query set."""
    if not queries:
        raise ValueError("No labelled queries to evaluate: the query set is empty.")
    results = []
    for labelled in tqdm(queries, desc="Retrieval evaluation", unit="query", disable=not progress):
        started = time.perf_counter()
        hits = tuple(str(document_id) for document_id in search(labelled.query))
        seconds = time.perf_counter() - started
        relevant = set(labelled.relevant_document_ids)
        results.append(QueryResult(labelled, hits, score_query(hits, relevant, k=k, mrr_k=mrr_k), seconds))
    by_type: dict[str, list[QueryScores]] = defaultdict(list)
    by_category: dict[str, list[QueryScores]] = defaultdict(list)
    for result in results:
        by_type[result.query.query_type].append(result.scores)
        by_category[result.query.category].append(result.scores)
    latencies = [result.seconds * 1000 for result in results]
    return RetrievalEvaluation(
        results=results,
        k=k,
        mrr_k=mrr_k,
        overall=aggregate([result.scores for result in results]),
        by_query_type=aggregate_by(by_type),
        by_category=aggregate_by(by_category),
        latency_ms={"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95)},
    )


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` in [0, 1]) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be within [0, 1], got {fraction}")
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]
