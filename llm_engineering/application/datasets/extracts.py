"""Extracts: the spans of the author's cleaned documents that dataset samples are written from.

The book's `extract_substrings` packs sentences into 1,000-2,000 character chunks and silently drops
any chunk under the minimum (and every article shorter than it). Here the units are paragraphs
(sentences for a paragraph over the maximum, word-bounded pieces for a sentence over it), packed
greedily per document; a piece under the minimum is merged into a neighbour instead of dropped.
Every extract is an exact character span of its document's content, so a sample's provenance points
back to the author's words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from llm_engineering.application.preprocessing.operations.chunking import (
    Span,
    paragraph_spans,
    sentence_spans,
    strip_span,
)
from llm_engineering.domain.cleaned_documents import (
    CleanedArticleDocument,
    CleanedDocument,
    CleanedRepositoryDocument,
)
from llm_engineering.domain.datasets import GenerationMethod, InstructionSource, Provenance
from llm_engineering.domain.types import DataCategory

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class SourceDocument:
    """What extraction needs of a cleaned document (the feature store's record or an exported JSON row)."""

    id: str
    category: DataCategory
    content: str
    link: str | None = None
    author_full_name: str | None = None
    title: str | None = None

    @classmethod
    def from_cleaned(cls, document: CleanedDocument) -> SourceDocument:
        """From any cleaned document; the title is the article's title or the repository's name."""
        title: str | None = None
        if isinstance(document, CleanedArticleDocument):
            title = document.title
        elif isinstance(document, CleanedRepositoryDocument):
            title = document.name
        return cls(
            id=str(document.id),
            category=document.get_category(),
            content=document.content,
            link=getattr(document, "link", None),
            author_full_name=document.author_full_name,
            title=title,
        )


@dataclass(frozen=True)
class Extract:
    """`document.content[start:end]`: a span that starts and ends on a non-whitespace character."""

    document: SourceDocument
    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= len(self.document.content):
            raise ValueError(f"Extract span [{self.start}, {self.end}) is outside document {self.document.id}")
        if (self.start, self.end) != strip_span(self.document.content, self.start, self.end):
            raise ValueError(f"Extract span [{self.start}, {self.end}) starts or ends on whitespace")

    @property
    def text(self) -> str:
        return self.document.content[self.start : self.end]

    def provenance(
        self, method: GenerationMethod, instruction_source: InstructionSource, model_id: str | None = None
    ) -> Provenance:
        """The provenance of a sample written from this extract."""
        return Provenance(
            document_id=self.document.id,
            document_link=self.document.link,
            author_full_name=self.document.author_full_name,
            extract_start=self.start,
            extract_end=self.end,
            method=method,
            instruction_source=instruction_source,
            model_id=model_id,
        )


@dataclass
class ExtractionReport:
    """Counts of one extraction run, logged as step metadata."""

    documents: int = 0
    extracts: int = 0
    documents_too_short: int = 0  # under min_document_chars: not extracted
    oversized_sentences_split: int = 0  # sentences over max_chars, cut at word boundaries
    chars_in: int = 0
    chars_in_extracts: int = 0

    def as_metadata(self) -> dict[str, Any]:
        mean = round(self.chars_in_extracts / self.extracts, 1) if self.extracts else 0.0
        return {**asdict(self), "mean_extract_chars": mean}


def extract_passages(
    documents: Iterable[SourceDocument | CleanedDocument],
    min_chars: int = 1000,
    max_chars: int = 2000,
    min_document_chars: int = 200,
) -> tuple[list[Extract], ExtractionReport]:
    """Cut each document into extracts of about [min_chars, max_chars] characters, in document order.

    Extracts never span documents. Every non-whitespace character of a document of at least
    `min_document_chars` (stripped) lies in one of its extracts. Extracts are at most max_chars long,
    except where a piece under min_chars was merged into a neighbour (at most max_chars + min_chars);
    a piece that fits no neighbour, or a whole document under min_chars, stays one short extract.
    """
    if not 0 < min_chars <= max_chars:
        raise ValueError(f"Need 0 < min_chars <= max_chars, got min_chars={min_chars}, max_chars={max_chars}")
    report = ExtractionReport()
    extracts: list[Extract] = []
    for item in documents:
        document = SourceDocument.from_cleaned(item) if isinstance(item, CleanedDocument) else item
        report.documents += 1
        report.chars_in += len(document.content)
        if len(document.content.strip()) < min_document_chars:
            report.documents_too_short += 1
            continue
        units, oversized = _units(document.content, max_chars)
        report.oversized_sentences_split += oversized
        units = _glue(document.content, units, max_chars)
        spans = _merge_short(_pack(units, max_chars), min_chars, max_chars + min_chars)
        extracts.extend(Extract(document, start, end) for start, end in spans)
    report.extracts = len(extracts)
    report.chars_in_extracts = sum(extract.end - extract.start for extract in extracts)
    return extracts, report


def _units(content: str, max_chars: int) -> tuple[list[Span], int]:
    """Paragraphs; sentences of a paragraph over max_chars; word-bounded pieces of a sentence over it."""
    units: list[Span] = []
    oversized = 0
    for start, end in paragraph_spans(content):
        if end - start <= max_chars:
            units.append((start, end))
            continue
        for sentence_start, sentence_end in sentence_spans(content, start, end):
            if sentence_end - sentence_start <= max_chars:
                units.append((sentence_start, sentence_end))
            else:
                oversized += 1
                units.extend(_word_pieces(content, sentence_start, sentence_end, max_chars))
    return units, oversized


_FENCE = "```"
_SENTENCE_END = (".", "!", "?", '"', "'", ")")


def _leads_in(text: str) -> bool:
    """A heading or a lead-in ("... as follows:") belongs with the text after it, not at an extract's end."""
    stripped = text.rstrip()
    if _FENCE in stripped:
        return False
    return stripped.endswith(":") or (len(stripped.split()) <= 12 and not stripped.endswith(_SENTENCE_END))


def _glue(content: str, units: list[Span], max_chars: int) -> list[Span]:
    """Join units that should not be cut apart, while the joined span fits max_chars: the paragraphs of one
    fenced code block (code has blank lines), and a heading or lead-in with the unit that follows it."""
    glued: list[Span] = []
    index = 0
    while index < len(units):
        start, end = units[index]
        last = index
        while True:
            if content[start:end].count(_FENCE) % 2 == 1:  # an open code block: reach its closing fence
                close = last + 1
                while close < len(units) and content[start : units[close][1]].count(_FENCE) % 2 == 1:
                    close += 1
                if close < len(units) and units[close][1] - start <= max_chars:
                    last, end = close, units[close][1]
                    continue
            unit_start, unit_end = units[last]
            if (
                last + 1 < len(units)
                and _leads_in(content[unit_start:unit_end])
                and units[last + 1][1] - start <= max_chars
            ):
                last, end = last + 1, units[last + 1][1]
                continue
            break
        glued.append((start, end))
        index = last + 1
    return glued


def _word_pieces(content: str, start: int, end: int, max_chars: int) -> list[Span]:
    """Cut content[start:end] between words into pieces of at most max_chars (a longer word is cut inside)."""
    pieces: list[Span] = []
    piece: Span | None = None
    for match in _WORD.finditer(content, start, end):
        word_start, word_end = match.span()
        while word_end - word_start > max_chars:
            if piece is not None:
                pieces.append(piece)
                piece = None
            pieces.append((word_start, word_start + max_chars))
            word_start += max_chars
        if piece is not None and word_end - piece[0] <= max_chars:
            piece = (piece[0], word_end)
        else:
            if piece is not None:
                pieces.append(piece)
            piece = (word_start, word_end)
    if piece is not None:
        pieces.append(piece)
    return pieces


def _pack(units: list[Span], max_chars: int) -> list[Span]:
    """Greedy: a unit joins the current extract while the whole span stays within max_chars."""
    packed: list[Span] = []
    for start, end in units:
        if packed and end - packed[-1][0] <= max_chars:
            packed[-1] = (packed[-1][0], end)
        else:
            packed.append((start, end))
    return packed


def _merge_short(spans: list[Span], min_chars: int, limit: int) -> list[Span]:
    """Merge each span under min_chars into the previous one, else the next one, while within `limit`."""
    merged: list[Span] = []
    carried: int | None = None  # start of a short span waiting to join the next one
    for index, (start, end) in enumerate(spans):
        if carried is not None:
            start, carried = carried, None
        if end - start >= min_chars:
            merged.append((start, end))
        elif merged and end - merged[-1][0] <= limit:
            merged[-1] = (merged[-1][0], end)
        elif index + 1 < len(spans) and spans[index + 1][1] - start <= limit:
            carried = start
        else:
            # Fits no neighbour (or has none): kept short rather than dropped.
            merged.append((start, end))
    return merged
