"""Chunking handlers: one per data category, with the book's per-category parameters.

Every handler also caps chunks at the embedding model's input length in tokens (counted with the
model's own tokenizer), so no chunk is silently truncated at encode time.
"""

from __future__ import annotations

import hashlib
import uuid
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar

from llm_engineering.application.preprocessing.operations.chunking import (
    TextChunk,
    TokenCounter,
    chunk_article,
    chunk_text,
)
from llm_engineering.domain.chunks import ArticleChunk, Chunk, PostChunk, RepositoryChunk
from llm_engineering.domain.cleaned_documents import (
    CleanedArticleDocument,
    CleanedDocument,
    CleanedPostDocument,
    CleanedRepositoryDocument,
)
from llm_engineering.domain.types import DataCategory

CleanedDocumentT = TypeVar("CleanedDocumentT", bound=CleanedDocument)
ChunkT = TypeVar("ChunkT", bound=Chunk)


def chunk_id(document_id: uuid.UUID, index: int, content: str) -> uuid.UUID:
    """Deterministic chunk id from its document, position and text, so re-runs upsert the same points.

    The document id keeps identical boilerplate in two documents apart; the version-4 bits make it a
    valid UUID4 for the domain models.
    """
    digest = hashlib.md5(f"{document_id}:{index}:{content}".encode(), usedforsecurity=False).hexdigest()
    return uuid.UUID(digest, version=4)


class ChunkingDataHandler(ABC, Generic[CleanedDocumentT, ChunkT]):
    """Chunks one category of cleaned documents within `max_tokens` model tokens per chunk."""

    chunk_class: ClassVar[type[Chunk]]
    # Fields copied from the cleaned document onto each chunk, beside the common ones.
    extra_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, max_tokens: int, count_tokens: TokenCounter):
        self.max_tokens = max_tokens
        self.count_tokens = count_tokens

    @property
    def parameters(self) -> dict[str, Any]:
        """The chunking parameters, logged to ZenML and stored on every chunk."""
        return {"chunker": type(self).__name__, "max_tokens": self.max_tokens}

    @abstractmethod
    def split(self, text: str, max_tokens: int) -> list[TextChunk]: ...

    def context_header(self, document: CleanedDocumentT) -> str:
        """Text embedded in front of each chunk to say where it comes from (e.g. the title); "" for none."""
        return ""

    def chunk(self, document: CleanedDocumentT) -> list[ChunkT]:
        """The document's chunks, in reading order; an empty document has none.

        With a context header, chunks are cut shorter by the header's tokens, so that header + chunk
        still fits the model (`metadata["token_count"]` counts what the model reads).
        """
        header = self.context_header(document).strip()
        header_tokens = self.count_tokens(f"{header}\n\n") - self.count_tokens("") if header else 0
        if header_tokens > self.max_tokens // 4:
            header, header_tokens = "", 0  # a header that long would crowd out the text
        pieces = self.split(document.content, self.max_tokens - header_tokens)
        own_link = getattr(document, "link", None)
        links = list(document.links) or ([own_link] if own_link else [])
        chunks = []
        for index, piece in enumerate(pieces):
            chunk_header = "" if not header or piece.text.startswith(header) else header
            chunks.append(
                self.chunk_class(  # type: ignore[misc]
                    id=chunk_id(document.id, index, piece.text),
                    content=piece.text,
                    platform=document.platform,
                    document_id=document.id,
                    author_id=document.author_id,
                    author_full_name=document.author_full_name,
                    metadata={
                        **self.parameters,
                        "chunk_index": index,
                        "num_chunks": len(pieces),
                        "start": piece.start,
                        "end": piece.end,
                        "context_header": chunk_header,
                        "token_count": piece.tokens + (header_tokens if chunk_header else 0),
                        "content_hash": document.content_hash,
                    },
                    links=links,
                    **{field: getattr(document, field) for field in self.extra_fields},
                )
            )
        return chunks


def text_to_embed(chunk: Chunk) -> str:
    """What the model reads for a chunk: its context header (if any), a blank line, then its content."""
    header = chunk.metadata.get("context_header") or ""
    return f"{header}\n\n{chunk.content}" if header else chunk.content


class PostChunkingHandler(ChunkingDataHandler[CleanedPostDocument, PostChunk]):
    chunk_class = PostChunk
    extra_fields = ("image", "link")
    chunk_size = 250
    chunk_overlap = 25

    @property
    def parameters(self) -> dict[str, Any]:
        return {**super().parameters, "chunk_size": self.chunk_size, "chunk_overlap": self.chunk_overlap}

    def split(self, text: str, max_tokens: int) -> list[TextChunk]:
        return chunk_text(text, self.chunk_size, self.chunk_overlap, max_tokens, self.count_tokens)


class RepositoryChunkingHandler(PostChunkingHandler):
    chunk_class = RepositoryChunk
    extra_fields = ("name", "link")
    # Code gets broader chunks; with MiniLM the token cap usually binds first.
    chunk_size = 1500
    chunk_overlap = 100

    def context_header(self, document: CleanedRepositoryDocument) -> str:  # type: ignore[override]
        return f"Repository {document.name}"


class ArticleChunkingHandler(ChunkingDataHandler[CleanedArticleDocument, ArticleChunk]):
    chunk_class = ArticleChunk
    extra_fields = ("link",)
    min_length = 1000
    max_length = 2000

    @property
    def parameters(self) -> dict[str, Any]:
        return {**super().parameters, "min_length": self.min_length, "max_length": self.max_length}

    def split(self, text: str, max_tokens: int) -> list[TextChunk]:
        return chunk_article(text, self.min_length, self.max_length, max_tokens, self.count_tokens)

    def context_header(self, document: CleanedArticleDocument) -> str:
        # Chunks deep inside an article rarely name its subject; the title tells the embedder.
        return document.title or ""


CHUNKING_HANDLERS: dict[DataCategory, type[ChunkingDataHandler]] = {
    DataCategory.POSTS: PostChunkingHandler,
    DataCategory.ARTICLES: ArticleChunkingHandler,
    DataCategory.REPOSITORIES: RepositoryChunkingHandler,
}
