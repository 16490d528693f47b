"""Cleaned documents: the non-vector snapshot in the feature store, read by dataset generation."""

from __future__ import annotations

from abc import ABC

from pydantic import UUID4, Field

from llm_engineering.domain.base.vector import VectorBaseDocument
from llm_engineering.domain.types import DataCategory


class CleanedDocument(VectorBaseDocument, ABC):
    """Keeps the raw document's id, so raw, cleaned and chunk records share lineage.

    One article stored twice (cross-posted) is kept once: the kept document lists every link it was
    found at in `links` (its own first) and the warehouse ids of the copies folded into it in
    `duplicate_ids`; a document without copies has its own link alone.
    """

    content: str
    platform: str
    author_id: UUID4
    author_full_name: str
    content_hash: str | None = None
    links: list[str] = Field(default_factory=list)
    duplicate_ids: list[str] = Field(default_factory=list)


class CleanedPostDocument(CleanedDocument):
    image: str | None = None
    link: str | None = None

    class Config:
        name = "cleaned_posts"
        category = DataCategory.POSTS
        use_vector_index = False


class CleanedArticleDocument(CleanedDocument):
    link: str
    # The article's title (also the first paragraph of `content`); chunks use it as context when embedded.
    title: str | None = None

    class Config:
        name = "cleaned_articles"
        category = DataCategory.ARTICLES
        use_vector_index = False


class CleanedRepositoryDocument(CleanedDocument):
    name: str
    link: str

    class Config:
        name = "cleaned_repositories"
        category = DataCategory.REPOSITORIES
        use_vector_index = False
