"""Retrieval metrics for a labelled query: which documents are relevant, in which order the retriever
returned its hits. Pure functions over document ids, so any retriever (dense, sparse, hybrid) is scored
the same way; `aggregate` averages them over a query set.

Hits are ranked document ids, best first; repeated ids (several chunks of one document) count once, at
their best rank, which is how a reader meets them in the prompt.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass


def unique_ranking(hits: Iterable[Hashable]) -> list[Hashable]:
    """`hits` with repeats removed, each id kept at its first (best) rank."""
    return list(dict.fromkeys(hits))


def recall_at_k(hits: Sequence[Hashable], relevant: set[Hashable], k: int) -> float:
    """Share of the relevant documents found in the first `k` distinct hits."""
    _check(relevant, k)
    return len(set(unique_ranking(hits)[:k]) & relevant) / len(relevant)


def reciprocal_rank(hits: Sequence[Hashable], relevant: set[Hashable], k: int | None = None) -> float:
    """1 / rank of the first relevant document among the first `k` distinct hits (all when None); 0 if none."""
    _check(relevant, k)
    ranking = unique_ranking(hits)
    for rank, document in enumerate(ranking[:k] if k else ranking, start=1):
        if document in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(hits: Sequence[Hashable], relevant: set[Hashable], k: int) -> float:
    """Normalised discounted cumulative gain with binary relevance over the first `k` distinct hits."""
    _check(relevant, k)
    gains = sum(
        1.0 / math.log2(rank + 1) for rank, doc in enumerate(unique_ranking(hits)[:k], start=1) if doc in relevant
    )
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, len(relevant)) + 1))
    return gains / ideal


def context_precision(hits: Sequence[Hashable], relevant: set[Hashable], k: int) -> float:
    """Share of the first `k` hits (chunks, repeats included: each takes prompt space) from a relevant
    document; 0.0 when there are no hits."""
    _check(relevant, k)
    window = list(hits)[:k]
    return sum(doc in relevant for doc in window) / len(window) if window else 0.0


@dataclass(frozen=True)
class QueryScores:
    """The metrics of one labelled query."""

    recall: float
    reciprocal_rank: float
    ndcg: float
    context_precision: float


def score_query(hits: Sequence[Hashable], relevant: set[Hashable], k: int = 5, mrr_k: int = 10) -> QueryScores:
    """recall@k, reciprocal rank within `mrr_k`, nDCG@k and context precision@k of one query."""
    return QueryScores(
        recall=recall_at_k(hits, relevant, k),
        reciprocal_rank=reciprocal_rank(hits, relevant, mrr_k),
        ndcg=ndcg_at_k(hits, relevant, k),
        context_precision=context_precision(hits, relevant, k),
    )


def aggregate(scores: Sequence[QueryScores]) -> dict[str, float]:
    """Means over a query set: {"queries", "recall", "mrr", "ndcg", "context_precision"}."""
    if not scores:
        raise ValueError("No query scores to aggregate: the labelled query set is empty.")
    count = len(scores)
    return {
        "queries": count,
        "recall": sum(score.recall for score in scores) / count,
        "mrr": sum(score.reciprocal_rank for score in scores) / count,
        "ndcg": sum(score.ndcg for score in scores) / count,
        "context_precision": sum(score.context_precision for score in scores) / count,
    }


def aggregate_by(scores: Mapping[str, Sequence[QueryScores]]) -> dict[str, dict[str, float]]:
    """`aggregate` per group (query type or category), groups with no queries left out."""
    return {group: aggregate(group_scores) for group, group_scores in scores.items() if group_scores}


def _check(relevant: set[Hashable], k: int | None) -> None:
    if not relevant:
        raise ValueError("A labelled query needs at least one relevant document.")
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
