"""Combining ranked chunk lists: reciprocal rank fusion across queries, and document-level ranking.

Reciprocal rank fusion (Cormack et al., 2009) scores an item sum(1 / (RRF_K + rank)) over the lists it
appears in, so lists with incomparable scores (several expanded queries, dense and keyword search) merge
without calibration. Document ranking then orders chunks by their document's evidence: a document matched
by several chunks outranks one matched by a single chunk of the same rank.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from llm_engineering.domain.embedded_chunks import EmbeddedChunk

# The usual constant of reciprocal rank fusion (also Qdrant's default).
RRF_K = 60


@dataclass(frozen=True)
class ScoredChunk:
    chunk: EmbeddedChunk
    score: float


def reciprocal_rank_fusion(rankings: Sequence[Sequence[ScoredChunk]], k: int = RRF_K) -> list[ScoredChunk]:
    """One list, best first: each chunk scored sum(1 / (k + rank)) over the `rankings` (each best first)
    that hold it. A single ranking is returned unchanged (its scores kept)."""
    if len(rankings) == 1:
        return list(rankings[0])
    scores: dict[str, float] = defaultdict(float)
    chunks: dict[str, EmbeddedChunk] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            key = str(item.chunk.id)
            scores[key] += 1.0 / (k + rank)
            chunks.setdefault(key, item.chunk)
    return sorted((ScoredChunk(chunks[key], score) for key, score in scores.items()), key=_score, reverse=True)


def rank_by_document(chunks: Sequence[ScoredChunk], support_weight: float = 0.5) -> list[ScoredChunk]:
    """`chunks` regrouped so each document's chunks sit together, best document first.

    A document scores its best chunk plus `support_weight` times the sum of its other chunks' scores
    (0 ranks documents by their best chunk alone); chunk scores are kept, chunks within a document stay
    best first. Scores must be non-negative (similarities or fused ranks).
    """
    if support_weight < 0:
        raise ValueError(f"support_weight must be >= 0, got {support_weight}")
    groups: dict[str, list[ScoredChunk]] = defaultdict(list)
    for item in sorted(chunks, key=_score, reverse=True):
        groups[str(item.chunk.document_id)].append(item)

    def document_score(items: list[ScoredChunk]) -> float:
        return items[0].score + support_weight * sum(item.score for item in items[1:])

    ordered = sorted(groups.values(), key=document_score, reverse=True)
    return [item for items in ordered for item in items]


def _score(item: ScoredChunk) -> float:
    return item.score
