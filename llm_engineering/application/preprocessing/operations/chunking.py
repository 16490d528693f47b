"""Pure chunking rules: split cleaned text into spans that fit the embedding model.

Every chunk is a slice `text[start:end]` of the cleaned text, so chunks can be traced back and it is
checkable that together they cover all of it: no text is dropped (the book's article chunker discarded
pieces shorter than its minimum). Every chunk fits a hard token cap, counted with the embedder's own
tokenizer, so the model never silently truncates a chunk (the book's 1,000-2,000 character article
chunks overflowed MiniLM's 256-token window). Character limits come from the per-category parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

TokenCounter = Callable[[str], int]
"""Tokens the model reads for a text, special tokens included (the `Embedder.count_tokens` contract)."""

Span = tuple[int, int]

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# Whitespace after . ? or !, except after abbreviations like "e.g." or "Dr." (the book's sentence rule).
_SENTENCE_BREAK = re.compile(r"(?<!\w\.\w.)(?<![A-Z][a-z]\.)(?<=[.?!])\s+")
_LINE_BREAK = re.compile(r"\n")
_CODE_FENCE = "```"


@dataclass(frozen=True)
class TextChunk:
    """One chunk: its text, where it sits in the source (`text[start:end]`) and its token count."""

    text: str
    start: int
    end: int
    tokens: int


@dataclass(frozen=True)
class ChunkBudget:
    """Hard limits of one chunk: characters and model tokens (special tokens included)."""

    max_chars: int
    max_tokens: int
    count_tokens: TokenCounter

    def __post_init__(self) -> None:
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be positive, got {self.max_chars}")
        if self.max_tokens <= self.count_tokens(""):
            raise ValueError(f"max_tokens={self.max_tokens} leaves no room for text after the special tokens")

    def fits(self, text: str) -> bool:
        return len(text) <= self.max_chars and self.count_tokens(text) <= self.max_tokens


# --- Spans --------------------------------------------------------------------------------------
def strip_span(text: str, start: int, end: int) -> Span:
    """Shrink [start, end) so it neither starts nor ends with whitespace (empty spans collapse to start)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def paragraph_spans(text: str) -> list[Span]:
    """Paragraphs: the non-blank stretches between blank lines."""
    spans, position = [], 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        spans.append(strip_span(text, position, match.start()))
        position = match.end()
    spans.append(strip_span(text, position, len(text)))
    return [(start, end) for start, end in spans if end > start]


def sentence_spans(text: str, start: int, end: int) -> list[Span]:
    """Sentences of text[start:end]; a fenced code block is split into lines instead."""
    piece = text[start:end]
    pattern = _LINE_BREAK if piece.startswith(_CODE_FENCE) else _SENTENCE_BREAK
    breaks = list(pattern.finditer(piece))
    spans, position = [], 0
    for match in breaks:
        spans.append(strip_span(text, start + position, start + match.start()))
        position = match.end()
    spans.append(strip_span(text, start + position, end))
    return [(s, e) for s, e in spans if e > s]


# --- Fitting one long span -------------------------------------------------------------------------
def _largest_fitting_end(text: str, start: int, end: int, budget: ChunkBudget) -> int:
    """The largest e in (start, end] with text[start:e] within budget (at least start + 1)."""
    high = min(end, start + budget.max_chars)
    if budget.fits(text[start:high]):
        return high
    low = start + 1  # one character always fits: max_tokens leaves room for at least one token
    while low < high:
        middle = (low + high + 1) // 2
        if budget.fits(text[start:middle]):
            low = middle
        else:
            high = middle - 1
    return low


def _preferred_cut(text: str, start: int, limit: int) -> int:
    """Back off from `limit` to a line break, else a space, in the second half of the window; else cut at limit."""
    floor = start + (limit - start) // 2
    for separator in ("\n", " "):
        position = text.rfind(separator, floor, limit)
        if position > start:
            return position
    return limit


def split_to_fit(text: str, start: int, end: int, budget: ChunkBudget, overlap_chars: int = 0) -> list[Span]:
    """Cut text[start:end] into windows within budget, at line or word boundaries when possible.

    With `overlap_chars`, each window starts up to that many characters before the previous one ended
    (moved forward to a word start), so context carries across cuts. Very long words are cut inside.
    """
    start, end = strip_span(text, start, end)
    spans: list[Span] = []
    position = start
    while position < end:
        limit = _largest_fitting_end(text, position, end, budget)
        cut = limit if limit >= end else _preferred_cut(text, position, limit)
        piece = strip_span(text, position, cut)
        if piece[1] > piece[0]:
            spans.append(piece)
        if cut >= end:
            break
        next_position = cut
        if overlap_chars > 0:
            candidate = max(position + 1, cut - overlap_chars)
            # Start the overlap on a word boundary so no window opens with half a word.
            word_start = text.find(" ", candidate, cut)
            next_position = word_start + 1 if word_start != -1 else cut
        position = strip_span(text, next_position, end)[0]
    return spans


# --- Packing units into chunks -----------------------------------------------------------------------
@dataclass
class _Unit:
    start: int
    end: int
    tokens: int  # without special tokens
    opens_paragraph: bool
    standalone: bool = False  # an overlapping window: never packed with a neighbour


def _units(text: str, spans: list[Span], budget: ChunkBudget, overhead: int, paragraph_starts: set[int]) -> list[_Unit]:
    units = []
    for start, end in spans:
        pieces = [(start, end)] if budget.fits(text[start:end]) else split_to_fit(text, start, end, budget)
        for index, (s, e) in enumerate(pieces):
            tokens = budget.count_tokens(text[s:e]) - overhead
            units.append(_Unit(s, e, tokens, opens_paragraph=index == 0 and start in paragraph_starts))
    return units


def _pack(
    text: str, units: list[_Unit], budget: ChunkBudget, overhead: int, close_at_paragraph_after: int | None
) -> list[list[_Unit]]:
    """Greedy packing; optionally close a chunk at a paragraph start once it holds enough characters."""
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    tokens = 0
    for unit in units:
        if current:
            chars = unit.end - current[0].start
            # Word-piece counts add up across whitespace (the tokenizer pre-splits on it); verified below.
            fits = (
                chars <= budget.max_chars
                and overhead + tokens + unit.tokens <= budget.max_tokens
                and not (unit.standalone or current[-1].standalone)
            )
            long_enough = (
                close_at_paragraph_after is not None
                and unit.opens_paragraph
                and current[-1].end - current[0].start >= close_at_paragraph_after
            )
            if fits and not long_enough:
                current.append(unit)
                tokens += unit.tokens
                continue
            groups.append(current)
        current, tokens = [unit], unit.tokens
    if current:
        groups.append(current)
    return groups


def _to_chunks(text: str, groups: list[list[_Unit]], budget: ChunkBudget) -> list[TextChunk]:
    chunks = []
    for group in groups:
        start, end = group[0].start, group[-1].end
        piece = text[start:end]
        tokens = budget.count_tokens(piece)
        if len(piece) <= budget.max_chars and tokens <= budget.max_tokens:
            chunks.append(TextChunk(piece, start, end, tokens))
            continue
        # The additive estimate was off (rare tokenizer merges): re-cut this group exactly.
        for s, e in split_to_fit(text, start, end, budget):
            chunks.append(TextChunk(text[s:e], s, e, budget.count_tokens(text[s:e])))
    return chunks


def chunk_article(
    text: str, min_length: int, max_length: int, max_tokens: int, count_tokens: TokenCounter
) -> list[TextChunk]:
    """Sentence-aligned chunks of `min_length`..`max_length` characters, each within `max_tokens`.

    Sentences are packed greedily; once a chunk holds `min_length` characters it closes at the next
    paragraph start, so paragraphs stay together. A sentence too long for one chunk is cut at word
    boundaries. The token cap wins over `min_length`. A final piece shorter than `min_length` is merged
    into the previous chunk when both fit together, else kept alone: nothing is dropped.
    """
    if min_length > max_length:
        raise ValueError(f"min_length ({min_length}) must not exceed max_length ({max_length})")
    budget = ChunkBudget(max_length, max_tokens, count_tokens)
    overhead = count_tokens("")
    paragraphs = paragraph_spans(text)
    sentences = [span for start, end in paragraphs for span in sentence_spans(text, start, end)]
    units = _units(text, sentences, budget, overhead, {start for start, _ in paragraphs})
    groups = _pack(text, units, budget, overhead, close_at_paragraph_after=min_length)
    if len(groups) > 1 and groups[-1][-1].end - groups[-1][0].start < min_length:
        merged = groups[-2] + groups[-1]
        if budget.fits(text[merged[0].start : merged[-1].end]):
            groups[-2:] = [merged]
    return _to_chunks(text, groups, budget)


def chunk_text(
    text: str, chunk_size: int, chunk_overlap: int, max_tokens: int, count_tokens: TokenCounter
) -> list[TextChunk]:
    """Paragraph-first chunks of at most `chunk_size` characters and `max_tokens` tokens.

    Whole paragraphs are packed together while they fit; a paragraph larger than one chunk is cut into
    windows (at line or word boundaries) that overlap by `chunk_overlap` characters.
    """
    if not 0 <= chunk_overlap < chunk_size:
        raise ValueError(f"chunk_overlap ({chunk_overlap}) must be in [0, chunk_size={chunk_size})")
    budget = ChunkBudget(chunk_size, max_tokens, count_tokens)
    overhead = count_tokens("")
    units: list[_Unit] = []
    for start, end in paragraph_spans(text):
        if budget.fits(text[start:end]):
            units.append(_Unit(start, end, count_tokens(text[start:end]) - overhead, opens_paragraph=True))
            continue
        # Overlapping windows stay separate chunks: packing them would repeat text inside one chunk.
        for s, e in split_to_fit(text, start, end, budget, overlap_chars=chunk_overlap):
            units.append(_Unit(s, e, count_tokens(text[s:e]) - overhead, opens_paragraph=True, standalone=True))
    groups = _pack(text, units, budget, overhead, close_at_paragraph_after=None)
    return _to_chunks(text, groups, budget)


def uncovered_text(text: str, chunks: list[TextChunk]) -> str:
    """The non-whitespace characters of `text` that no chunk covers ("" when chunks cover everything)."""
    covered = bytearray(len(text))
    for chunk in chunks:
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    return "".join(char for char, flag in zip(text, covered, strict=True) if not flag and not char.isspace())
