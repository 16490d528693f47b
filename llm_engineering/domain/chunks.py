"""Chunks: intermediate pieces of cleaned documents, never stored on their own."""

from __future__ import annotations

from abc import ABC

from pydantic import UUID4, Field

from llm_engineering.domain.base.vector import VectorBaseDocument
from llm_engineering.domain.types import DataCategory


class Chunk(VectorBaseDocument, ABC):
    content: str
    platform: str
    document_id: UUID4
    author_id: UUID4
    author_full_name: str
    metadata: dict = Field(default_factory=dict)
    # Every link of the document (copies of one article at several addresses), for filters and sources.
    links: list[str] = Field(default_factory=list)


class PostChunk(Chunk):
    image: str | None = None
    link: str | None = None

    class Config:
        category = DataCategory.POSTS


class ArticleChunk(Chunk):
    link: str

    class Config:
        category = DataCategory.ARTICLES


class RepositoryChunk(Chunk):
    name: str
    link: str

    class Config:
        category = DataCategory.REPOSITORIES
