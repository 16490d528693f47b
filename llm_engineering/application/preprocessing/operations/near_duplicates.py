"""Near-duplicate texts by word shingles: the same article stored twice (cross-posted to Substack and
Medium), where one copy may be abridged and each carries its own platform's leftovers.

Texts are compared by their sets of word 5-shingles (lowercased word tokens, hashed to 64 bits):
- *containment* |A ∩ B| / min(|A|, |B|) finds a shortened copy: the book's Substack versions of Medium
  articles hold 66-90% of their shingles in the Medium text;
- *Jaccard* |A ∩ B| / |A or B| has a floor, so a short teaser that quotes part of a long article (half
  of its shingles are the article's, but it is a tenth of its size) is not taken for a copy of it.
Candidate pairs come from an inverted index of the shingles, so only texts that share shingles are
compared; shingles found in very many texts (boilerplate) propose no pairs. Everything is exact and
deterministic (no sampling, no process-seeded hashing): the same texts always give the same groups.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

SHINGLE_WORDS = 5
MIN_CONTAINMENT = 0.6
MIN_JACCARD = 0.2
# A shingle shared by more texts than this is boilerplate (a newsletter footer): it proposes no pairs.
MAX_SHINGLE_TEXTS = 64
# Texts shorter than this many shingles are too short to call copies (a one-line post).
MIN_SHINGLES = 20

_WORD = re.compile(r"\w+")


def shingles(text: str, size: int = SHINGLE_WORDS) -> frozenset[int]:
    """The text's word `size`-shingles, each hashed to a stable 64-bit integer (a text shorter than
    `size` words is one shingle; an empty text has none)."""
    words = _WORD.findall(text.lower())
    if not words:
        return frozenset()
    grams = [" ".join(words[i : i + size]) for i in range(max(1, len(words) - size + 1))]
    return frozenset(int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "big") for gram in grams)


@dataclass(frozen=True)
class Overlap:
    """How much two shingle sets share."""

    shared: int
    containment: float
    jaccard: float


def overlap(first: frozenset[int], second: frozenset[int], shared: int | None = None) -> Overlap:
    """Containment (shared over the smaller set) and Jaccard of two shingle sets; zero when one is empty."""
    if not first or not second:
        return Overlap(0, 0.0, 0.0)
    common = len(first & second) if shared is None else shared
    return Overlap(common, common / min(len(first), len(second)), common / (len(first) + len(second) - common))


def is_copy(measured: Overlap, min_containment: float = MIN_CONTAINMENT, min_jaccard: float = MIN_JACCARD) -> bool:
    """Whether two texts with this overlap are copies of one text."""
    return measured.containment >= min_containment and measured.jaccard >= min_jaccard


def copy_pairs(
    sets: Sequence[frozenset[int]],
    min_containment: float = MIN_CONTAINMENT,
    min_jaccard: float = MIN_JACCARD,
    max_shingle_texts: int = MAX_SHINGLE_TEXTS,
) -> dict[tuple[int, int], Overlap]:
    """(i, j) with i < j -> overlap, for every pair of shingle sets that are copies of each other."""
    postings: dict[int, list[int]] = defaultdict(list)
    for index, shingle_set in enumerate(sets):
        if len(shingle_set) >= MIN_SHINGLES:
            for shingle in shingle_set:
                postings[shingle].append(index)
    candidates: set[tuple[int, int]] = set()
    for members in postings.values():
        if 1 < len(members) <= max_shingle_texts:
            candidates.update((a, b) for position, a in enumerate(members) for b in members[position + 1 :])
    pairs: dict[tuple[int, int], Overlap] = {}
    for first, second in sorted(candidates):
        measured = overlap(sets[first], sets[second])
        if is_copy(measured, min_containment, min_jaccard):
            pairs[(first, second)] = measured
    return pairs


def copy_groups(pairs: Sequence[tuple[int, int]] | dict[tuple[int, int], Overlap], size: int) -> list[list[int]]:
    """Indices `0..size-1` joined through copy pairs (transitively), as sorted groups of two or more,
    ordered by their first index."""
    parent = list(range(size))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for first, second in pairs:
        low, high = sorted((root(first), root(second)))
        parent[high] = low
    groups: dict[int, list[int]] = defaultdict(list)
    for index in range(size):
        groups[root(index)].append(index)
    return sorted((members for members in groups.values() if len(members) > 1), key=lambda members: members[0])
