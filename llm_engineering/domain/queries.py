"""Queries sent to retrieval, plain and embedded."""

from __future__ import annotations

from pydantic import UUID4, BaseModel, ConfigDict, Field

from llm_engineering.domain.base.vector import VectorBaseDocument
from llm_engineering.domain.types import DataCategory


class Query(VectorBaseDocument):
    content: str
    author_id: UUID4 | None = None
    author_full_name: str | None = None
    metadata: dict = Field(default_factory=dict)

    class Config:
        category = DataCategory.QUERIES

    @classmethod
    def from_str(cls, query: str) -> Query:
        return cls(content=query.strip("\n "))

    def replace_content(self, new_content: str) -> Query:
        return Query(
            id=self.id,
            content=new_content,
            author_id=self.author_id,
            author_full_name=self.author_full_name,
            metadata=self.metadata,
        )


class EmbeddedQuery(Query):
    embedding: list[float]

    class Config:
        category = DataCategory.QUERIES


class Source(BaseModel):
    """Where a retrieved passage comes from: enough for a reader to check it and for a UI to link it."""

    model_config = ConfigDict(frozen=True)

    chunk_id: str
    document_id: str
    category: str
    author: str
    platform: str
    link: str | None = None
    score: float
