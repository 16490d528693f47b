"""One copy per prompt: retrieved passages that repeat a better-ranked one are left out.

The feature pipeline stores one copy of a cross-posted article (see `preprocessing.duplicates`), but a
store built before holds both, and their passages would both reach the prompt: the same sentences twice,
quoted twice in the answer. Going down the ranking, a passage is left out when
- it belongs to another document known by one of the same links (two stored copies of one article), or
- most of its text is already in the passages kept above it (word 5-shingle containment), which also
  keeps an article series' repeated introduction from filling the prompt twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from llm_engineering.application.preprocessing.operations.near_duplicates import shingles
from llm_engineering.application.rag.fusion import ScoredChunk

# Share of a passage's shingles already in the kept passages above which it only repeats them.
MAX_REPEATED_SHARE = 0.5


def _links(item: ScoredChunk) -> set[str]:
    chunk = item.chunk
    own = getattr(chunk, "link", None)
    return {*chunk.links, *([own] if own else [])}


def drop_copies(
    ranked: Sequence[ScoredChunk], limit: int | None = None, max_repeated_share: float = MAX_REPEATED_SHARE
) -> tuple[list[ScoredChunk], int]:
    """The ranked passages without those that repeat a better-ranked kept one (see the module), at most
    `limit` of them, in rank order; and how many were left out on the way."""
    kept: list[ScoredChunk] = []
    seen_shingles: set[int] = set()
    links_of: dict[str, set[str]] = {}
    dropped = 0
    for item in ranked:
        if limit is not None and len(kept) >= limit:
            break
        document_id = str(item.chunk.document_id)
        links = _links(item)
        if any(other != document_id and links & known for other, known in links_of.items()):
            dropped += 1
            continue
        passage = shingles(item.chunk.content)
        if passage and len(passage & seen_shingles) / len(passage) > max_repeated_share:
            dropped += 1
            continue
        kept.append(item)
        seen_shingles |= passage
        links_of.setdefault(document_id, set()).update(links)
    return kept, dropped
