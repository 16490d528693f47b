"""Embedded chunks: the vector snapshot in the feature store, searched by RAG."""

from __future__ import annotations

from abc import ABC

from pydantic import UUID4, Field

from llm_engineering.domain.base.vector import VectorBaseDocument
from llm_engineering.domain.types import DataCategory


class EmbeddedChunk(VectorBaseDocument, ABC):
    content: str
    embedding: list[float] | None
    platform: str
    document_id: UUID4
    author_id: UUID4
    author_full_name: str
    metadata: dict = Field(default_factory=dict)
    # Every link of the document (copies of one article at several addresses); empty in stores built before.
    links: list[str] = Field(default_factory=list)

    def sparse_text(self) -> str:
        """What the keyword index holds: the chunk's context header (title, section) and its content, the
        same text the embedding model read."""
        header = self.metadata.get("context_header") or ""
        return f"{header}\n\n{self.content}" if header else self.content


class EmbeddedPostChunk(EmbeddedChunk):
    image: str | None = None
    link: str | None = None

    class Config:
        name = "embedded_posts"
        category = DataCategory.POSTS
        use_vector_index = True
        use_sparse_index = True


class EmbeddedArticleChunk(EmbeddedChunk):
    link: str

    class Config:
        name = "embedded_articles"
        category = DataCategory.ARTICLES
        use_vector_index = True
        use_sparse_index = True


class EmbeddedRepositoryChunk(EmbeddedChunk):
    name: str
    link: str

    class Config:
        name = "embedded_repositories"
        category = DataCategory.REPOSITORIES
        use_vector_index = True
        use_sparse_index = True
