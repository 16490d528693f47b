"""Judge-free measures of a generated answer's text: does it loop, does it stay with its sources.

Pure functions over strings, used by the answer guard (`answering.py`), `bench/answer_quality.py` and
the evaluation reports (`model/evaluation/`). Words are
lower-cased letter/digit runs; "content words" drop a small stop-word list so grounding is not
inflated by "the", "and", "is".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CITATION = re.compile(r"\[(\d{1,3})\]")
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "more",
        "most",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "too",
        "up",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def words(text: str) -> list[str]:
    return [match.group(0).lower() for match in _WORD.finditer(text)]


def content_words(text: str) -> list[str]:
    return [word for word in words(text) if word not in STOP_WORDS and len(word) > 2]


def repetition_rate(text: str, n: int = 4) -> float:
    """Share of the word n-grams that repeat an earlier one (0.0: no loop; near 1.0: one phrase looped)."""
    tokens = words(text)
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    return round(1.0 - len(set(grams)) / len(grams), 4)


def repeated_sentences(text: str) -> int:
    """How many sentences (or lines) are exact repeats of an earlier one, ignoring case and spacing."""
    sentences = [" ".join(words(piece)) for piece in _SENTENCE_END.split(text)]
    counts = Counter(sentence for sentence in sentences if len(sentence.split()) >= 3)
    return sum(count - 1 for count in counts.values())


def grounding_score(answer: str, passages: Sequence[str]) -> float:
    """Share of the answer's content words that occur in the passages it was given (0.0 to 1.0).

    A lexical proxy for faithfulness: an answer built from its sources scores high, one that drifts into
    unrelated text scores low. An empty answer scores 0.
    """
    answer_words = content_words(answer)
    if not answer_words:
        return 0.0
    source_words = set(content_words("\n".join(passages)))
    return round(sum(word in source_words for word in answer_words) / len(answer_words), 4)


def request_echo(answer: str, request: str) -> float:
    """Share of the answer's content words that are the request's (near 1.0: the request said back)."""
    answer_words = content_words(answer)
    if not answer_words:
        return 0.0
    request_words = set(content_words(request))
    return round(sum(word in request_words for word in answer_words) / len(answer_words), 4)


def invalid_citations(answer: str, passages_in_prompt: int) -> list[int]:
    """Citation numbers `[n]` in the answer that name no passage of the prompt (1..passages_in_prompt)."""
    return sorted({int(number) for number in _CITATION.findall(answer) if not 1 <= int(number) <= passages_in_prompt})
