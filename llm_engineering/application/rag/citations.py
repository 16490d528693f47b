"""One numbering for an answer and its sources: `[n]` in the answer is the n-th listed source.

Readers see documents (the sources list), retrieval works on passages (chunks). Numbering the prompt's
passages and listing documents gave two numberings: "[4]" in the answer could be the third source. So
the prompt holds one numbered block per source document, in the sources' order (`group_sources`: by the
rank of its best passage), with that document's passages in reading order. The model then cites
documents by the numbers the sources list shows, the extractive fallback cites the same blocks, and
nothing is renumbered after generation, not even the streamed tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

from llm_engineering.application.rag.fusion import ScoredChunk


def _by_document(passages: Sequence[ScoredChunk]) -> dict[str, list[tuple[int, ScoredChunk]]]:
    """Passages per document id, documents in the order of their best-ranked (first) passage."""
    groups: dict[str, list[tuple[int, ScoredChunk]]] = {}
    for rank, item in enumerate(passages):
        groups.setdefault(str(item.chunk.document_id), []).append((rank, item))
    return groups


def _reading_order(entry: tuple[int, ScoredChunk]) -> tuple[int, int]:
    rank, item = entry
    index = item.chunk.metadata.get("chunk_index")
    return (int(index) if isinstance(index, int) else rank, rank)


def context_blocks(passages: Sequence[ScoredChunk]) -> list[str]:
    """One text per source document, block n for source n: the document's passages in reading order
    (by chunk index, else rank), separated by blank lines."""
    return [
        "\n\n".join(item.chunk.content.strip() for _, item in sorted(members, key=_reading_order))
        for members in _by_document(passages).values()
    ]


def source_numbers(passages: Sequence[ScoredChunk]) -> dict[str, int]:
    """Chunk id -> the number of its document among the sources (the `[n]` that cites it)."""
    return {
        str(item.chunk.id): number
        for number, members in enumerate(_by_document(passages).values(), start=1)
        for _, item in members
    }
