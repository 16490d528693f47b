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
    """A document an answer draws on: its number, where it comes from, how well it matched.

    Retrieval works on chunks; readers think in documents. Chunks of one document are grouped here: the
    score is its best chunk's and every chunk id is kept. `number` is the source's place in the list, from
    1, and the only citation number there is: the prompt holds one numbered block per source, so `[n]` in
    an answer (the model's or the extractive fallback's) is the source numbered n.
    """

    model_config = ConfigDict(frozen=True)

    number: int = Field(ge=1, description="The source's place in the list, from 1: what [n] in the answer cites.")
    document_id: str
    category: str
    author: str
    platform: str
    link: str | None = None
    links: list[str] = Field(
        default_factory=list, description="Every address of the document (copies of one article), its own first."
    )
    score: float
    chunk_ids: list[str]
