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
    """A document an answer draws on: where it comes from, how well it matched, which passages were used.

    Retrieval works on chunks; readers think in documents. Chunks of one document are grouped here: the
    score is its best chunk's, every chunk id is kept, and `passages` are the numbers its chunks carry in
    the prompt (`[n]` in the answer), empty when nothing was generated.
    """

    model_config = ConfigDict(frozen=True)

    document_id: str
    category: str
    author: str
    platform: str
    link: str | None = None
    score: float
    chunk_ids: list[str]
    passages: list[int] = Field(default_factory=list)
