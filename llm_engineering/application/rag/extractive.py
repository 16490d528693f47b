"""An extractive answer: the author's own sentences from the prompt's passages that best fit the request.

Used when the model's reply fails the answer guard (it loops, is off topic, or is not grounded in the
passages), which is what a small base model does most of the time. Every sentence is the author's,
cited with the number of its passage, so the answer reads as a short note built from their writing and
the trace says it was extracted rather than generated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from llm_engineering.application.ports import Embedder
from llm_engineering.application.rag.answer_quality import content_words

_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[])")
# Lines that are not prose: headings, list markers alone, code fences, tables.
_NOT_PROSE = re.compile(r"^\s*(?:#|```|\||[-*]\s*$)")
MIN_SENTENCE_WORDS = 5
MAX_SENTENCE_CHARS = 400
# A sentence far less similar to the request than the best one drifts off topic: leave it out.
MIN_RELATIVE_SCORE = 0.7


@dataclass(frozen=True)
class Candidate:
    passage: int  # 1-based number of the passage in the prompt
    position: int  # order within the passage
    text: str


def split_sentences(passage: str) -> list[str]:
    """Prose sentences of a passage: headings, code and fragments left out."""
    sentences: list[str] = []
    for block in re.split(r"\n\s*\n", passage):
        lines = [line for line in block.splitlines() if line.strip() and not _NOT_PROSE.match(line)]
        text = " ".join(line.strip().lstrip("-* ").strip() for line in lines)
        for sentence in _SENTENCE.split(text):
            sentence = sentence.strip()
            # Prose ends like a sentence; titles and headings without a mark (as chunks carry them) do not.
            complete = sentence.rstrip("\"')]").endswith((".", "!", "?"))
            if complete and len(sentence.split()) >= MIN_SENTENCE_WORDS and len(sentence) <= MAX_SENTENCE_CHARS:
                sentences.append(sentence)
    return sentences


def extractive_answer(
    query: str,
    passages: Sequence[str],
    embedder: Embedder | None = None,
    max_sentences: int = 4,
    max_chars: int = 700,
) -> str:
    """Up to `max_sentences` sentences of the passages most similar to `query`, each cited `[n]` with the
    position of its passage from 1 (answering passes one text per source, so `n` is the source's number).

    Similarity is cosine with `embedder` when given (the retrieval model), else shared content words; a
    sentence scoring under `MIN_RELATIVE_SCORE` of the best one is left out. The best sentence leads and
    the others keep the passages' order, so the note opens on the request and reads in the author's sequence.
    """
    candidates = [
        Candidate(number, position, sentence)
        for number, passage in enumerate(passages, start=1)
        for position, sentence in enumerate(split_sentences(passage))
    ]
    if not candidates:
        return ""
    scores = _scores(query, [candidate.text for candidate in candidates], embedder)
    ranked = sorted(zip(candidates, scores, strict=True), key=lambda pair: pair[1], reverse=True)
    best = ranked[0][1]
    chosen: list[Candidate] = []
    used = 0
    for candidate, score in ranked:
        if len(chosen) == max_sentences or (chosen and best > 0 and score < MIN_RELATIVE_SCORE * best):
            break
        if chosen and used + len(candidate.text) > max_chars:
            continue
        chosen.append(candidate)
        used += len(candidate.text)
    # The best sentence leads; the others follow in the author's order (passage, then position).
    lead, rest = chosen[0], sorted(chosen[1:], key=lambda candidate: (candidate.passage, candidate.position))
    chosen = [lead, *rest]
    return " ".join(f"{_with_citation(candidate.text, candidate.passage)}" for candidate in chosen)


def _with_citation(sentence: str, passage: int) -> str:
    end = len(sentence.rstrip(".!?\"')]"))
    return f"{sentence[:end]} [{passage}]{sentence[end:]}"


def _scores(query: str, sentences: list[str], embedder: Embedder | None) -> list[float]:
    if embedder is not None:
        vectors = embedder.embed([query, *sentences])
        query_vector = vectors[0]
        return [float(sum(a * b for a, b in zip(query_vector, vector, strict=True))) for vector in vectors[1:]]
    wanted = set(content_words(query))
    return [
        len(wanted & set(content_words(sentence))) / (1 + len(set(content_words(sentence)))) for sentence in sentences
    ]
