"""Sparse (BM25-style) term vectors for keyword search beside the dense embeddings.

A document's vector holds, for each distinct term, BM25's saturated term frequency; the query's holds 1.0
per distinct term. The vector store multiplies by each term's inverse document frequency (Qdrant's `idf`
modifier keeps it current as documents come and go), so their dot product is the BM25 score. Pure and
deterministic: the same text always gives the same vector, in every process.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass

# BM25's usual constants. AVERAGE_TERMS stands in for the corpus mean length: chunks are bounded by the
# chunkers, so a fixed value keeps vectors independent of what else is stored (no re-indexing on growth).
K1 = 1.2
B = 0.75
AVERAGE_TERMS = 120.0

# Runs of letters and digits, keeping inner dots, dashes and pluses of names such as "gpt-4o" or "c++".
_TERM = re.compile(r"[^\W_]+(?:[.+#-][^\W_]+)*\+*")

# Words that carry no topic; without them short questions match on what they are about.
_STOP_WORDS_TEXT = """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing done down during each even ever every few for from further
    get gets got had has have having he her here hers herself him himself his how i if in into is it its itself
    just let like made make makes many may me might more most much must my myself no nor not now of off on once
    one only or other our ours ourselves out over own per please same shall she should so some such tell than
    that the their theirs them themselves then there these they this those through to too under until up upon
    us use used uses using very via want was we well were what when where which while who whom why will with
    within without would write you your yours yourself yourselves"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


@dataclass(frozen=True)
class SparseVector:
    """Term ids (sorted, distinct) and their weights."""

    indices: tuple[int, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.values):
            raise ValueError(f"SparseVector: {len(self.indices)} indices but {len(self.values)} values")

    def __bool__(self) -> bool:
        return bool(self.indices)


def terms(text: str) -> list[str]:
    """The searchable terms of `text`: lowercase words and names, stop words and single letters dropped,
    each reduced by `stem`."""
    return [stem(word) for word in _TERM.findall(text.lower()) if len(word) > 1 and word not in STOP_WORDS]


def stem(word: str) -> str:
    """A light English stemmer: a plural ending, then an -ing/-ed ending, so "models"/"model" and
    "embeddings"/"embedding"/"embedded" meet while names stay readable."""
    if len(word) <= 4 or not word.isalpha():
        return word
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def term_id(term: str) -> int:
    """A stable 31-bit id of a term (CRC-32: the same in every process, unlike `hash`)."""
    return zlib.crc32(term.encode("utf-8")) & 0x7FFFFFFF


def document_vector(text: str) -> SparseVector:
    """BM25 term weights of a stored text: tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / AVERAGE_TERMS))."""
    counts = Counter(terms(text))
    length = sum(counts.values())
    norm = K1 * (1 - B + B * length / AVERAGE_TERMS)
    weights: dict[int, float] = {}
    for term, count in counts.items():
        index = term_id(term)
        # Two terms sharing an id (a CRC collision) add up, as one term would.
        weights[index] = weights.get(index, 0.0) + count * (K1 + 1) / (count + norm)
    return _sorted(weights)


def query_vector(text: str) -> SparseVector:
    """1.0 per distinct term of a query: the store's IDF weighting does the rest."""
    return _sorted(dict.fromkeys((term_id(term) for term in terms(text)), 1.0))


def _sorted(weights: dict[int, float]) -> SparseVector:
    indices = sorted(weights)
    return SparseVector(tuple(indices), tuple(weights[index] for index in indices))
