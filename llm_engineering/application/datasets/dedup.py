"""Text similarity for dataset curation: exact and near-duplicate detection, and train/test decontamination.

Works on plain strings (a sample's `text_for_dedup()`), returning the indices to drop; `curation.py`
turns those into curation steps over samples. Near duplicates use MinHash + LSH (datasketch) on word
shingles, confirmed by the estimated Jaccard similarity; decontamination follows the book's recipe of
matching training texts against the evaluation texts' word n-grams and dropping only the training side.
"""

from __future__ import annotations

import hashlib
import re
import string
import unicodedata
from collections.abc import Sequence
from enum import StrEnum

from datasketch import MinHash, MinHashLSH

_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
_EDGE_CHARS = string.punctuation + string.whitespace + "\u201c\u201d\u2018\u2019\u00ab\u00bb\u2026"


class ContaminationReason(StrEnum):
    TEST_EXACT = "test_exact"
    TEST_OVERLAP = "test_overlap"


def normalise_text(text: str) -> str:
    """`text` in NFKC, lowercased, whitespace collapsed to single spaces and punctuation stripped at both ends."""
    folded = _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text).lower())
    return folded.strip(_EDGE_CHARS)


def words(text: str) -> list[str]:
    """The word tokens of the normalised `text` (punctuation dropped, so "RAG," and "RAG" match)."""
    return _WORD.findall(normalise_text(text))


def word_ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """The distinct n-grams of `tokens`; fewer than `n` tokens give the whole token list as one n-gram
    (no tokens give none)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not tokens:
        return set()
    if len(tokens) < n:
        return {tuple(tokens)}
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def fingerprint(text: str) -> str:
    """SHA-256 hex digest of the normalised `text`: equal for case, whitespace and edge-punctuation variants."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def find_exact_duplicates(texts: Sequence[str]) -> set[int]:
    """Indices of the texts whose fingerprint was already seen earlier in `texts` (the first one is kept)."""
    seen: set[str] = set()
    duplicates: set[int] = set()
    for index, text in enumerate(texts):
        digest = fingerprint(text)
        if digest in seen:
            duplicates.add(index)
        seen.add(digest)
    return duplicates


def find_near_duplicates(
    texts: Sequence[str], threshold: float = 0.85, num_perm: int = 128, shingle_words: int = 3, seed: int = 1
) -> set[int]:
    """Indices of the texts whose word-shingle Jaccard similarity to an earlier *kept* text is >= `threshold`.

    Texts are visited in order; LSH proposes candidates among the kept ones and the MinHash estimate of
    the Jaccard similarity confirms them. A fixed `seed` makes the result deterministic.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if num_perm < 2:
        raise ValueError(f"num_perm must be at least 2, got {num_perm}")
    try:
        lsh: MinHashLSH | None = MinHashLSH(threshold=threshold, num_perm=num_perm)
    except ValueError:
        # Thresholds near 1 leave LSH fewer than two bands: compare with every kept text instead.
        lsh = None
    # One set of permutations for all texts: building them per MinHash dominates the cost otherwise.
    permutations = MinHash(num_perm=num_perm, seed=seed).permutations
    kept: dict[int, MinHash] = {}
    duplicates: set[int] = set()
    for index, text in enumerate(texts):
        signature = MinHash(num_perm=num_perm, seed=seed, permutations=permutations)
        signature.update_batch(
            [" ".join(shingle).encode("utf-8") for shingle in word_ngrams(words(text), shingle_words)]
        )
        # LSH has false positives: only a confirmed similarity removes a text.
        candidates = lsh.query(signature) if lsh is not None else kept
        if any(kept[key].jaccard(signature) >= threshold for key in candidates):
            duplicates.add(index)
            continue
        if lsh is not None:
            lsh.insert(index, signature)
        kept[index] = signature
    return duplicates


def find_contaminated(
    train_texts: Sequence[str], test_texts: Sequence[str], ngram: int = 8, max_overlap: float = 0.5
) -> dict[int, ContaminationReason]:
    """Indices of the training texts that leak evaluation texts, with the reason.

    `TEST_EXACT`: the normalised text equals a test text. `TEST_OVERLAP`: at least `max_overlap` of the
    text's distinct word n-grams occur in some test text. Test texts are only read.
    """
    if not 0 < max_overlap <= 1:
        raise ValueError(f"max_overlap must be in (0, 1], got {max_overlap}")
    test_exact = {normalise_text(text) for text in test_texts}
    test_ngrams = {gram for text in test_texts for gram in word_ngrams(words(text), ngram)}
    contaminated: dict[int, ContaminationReason] = {}
    for index, text in enumerate(train_texts):
        if normalise_text(text) in test_exact:
            contaminated[index] = ContaminationReason.TEST_EXACT
            continue
        grams = word_ngrams(words(text), ngram)
        if grams and len(grams & test_ngrams) / len(grams) >= max_overlap:
            contaminated[index] = ContaminationReason.TEST_OVERLAP
    return contaminated
