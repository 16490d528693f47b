"""Embedding handlers: one per data category, mapping chunks to embedded chunks in batches.

Handlers get the embedder injected (no model at import). The chunk's metadata is kept and extended
with the embedding model's id, vector size and input length, so every point says how it was built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from llm_engineering.application.ports import Embedder
from llm_engineering.application.preprocessing.chunking_data_handlers import text_to_embed
from llm_engineering.domain.chunks import Chunk
from llm_engineering.domain.embedded_chunks import (
    EmbeddedArticleChunk,
    EmbeddedChunk,
    EmbeddedPostChunk,
    EmbeddedRepositoryChunk,
)
from llm_engineering.domain.queries import EmbeddedQuery, Query
from llm_engineering.domain.types import DataCategory

ChunkT = TypeVar("ChunkT", bound=Chunk)
EmbeddedT = TypeVar("EmbeddedT", bound=EmbeddedChunk)


def embedding_metadata(embedder: Embedder) -> dict[str, Any]:
    """What identifies the vectors an embedder produces."""
    return {
        "embedding_model_id": embedder.model_id,
        "embedding_size": embedder.dimension,
        "max_input_length": embedder.max_input_tokens,
    }


class EmbeddingDataHandler(Generic[ChunkT, EmbeddedT]):
    """Embeds chunks of one category with one batched call per `embed_batch`."""

    embedded_class: ClassVar[type[EmbeddedChunk]]

    def __init__(self, embedder: Embedder, batch_size: int | None = None):
        self.embedder = embedder
        self.batch_size = batch_size

    def embed_batch(self, chunks: Sequence[ChunkT]) -> list[EmbeddedT]:
        """Embedded chunks in input order, ids and payload copied from the chunks."""
        if not chunks:
            return []
        vectors = self.embedder.embed([text_to_embed(chunk) for chunk in chunks], batch_size=self.batch_size)
        if len(vectors) != len(chunks):
            raise RuntimeError(f"The embedder returned {len(vectors)} vectors for {len(chunks)} chunks.")
        extra = embedding_metadata(self.embedder)
        return [
            self.embedded_class.model_validate(  # type: ignore[misc]
                {**chunk.model_dump(), "embedding": vector, "metadata": {**chunk.metadata, **extra}}
            )
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]


class PostEmbeddingHandler(EmbeddingDataHandler):
    embedded_class = EmbeddedPostChunk


class ArticleEmbeddingHandler(EmbeddingDataHandler):
    embedded_class = EmbeddedArticleChunk


class RepositoryEmbeddingHandler(EmbeddingDataHandler):
    embedded_class = EmbeddedRepositoryChunk


class QueryEmbeddingHandler:
    """Embeds retrieval queries with the same model as the documents (no training-serving skew)."""

    def __init__(self, embedder: Embedder, batch_size: int | None = None):
        self.embedder = embedder
        self.batch_size = batch_size

    def embed_batch(self, queries: Sequence[Query]) -> list[EmbeddedQuery]:
        if not queries:
            return []
        vectors = self.embedder.embed([query.content for query in queries], batch_size=self.batch_size)
        extra = embedding_metadata(self.embedder)
        return [
            EmbeddedQuery.model_validate(
                {**query.model_dump(), "embedding": vector, "metadata": {**query.metadata, **extra}}
            )
            for query, vector in zip(queries, vectors, strict=True)
        ]


EMBEDDING_HANDLERS: dict[DataCategory, type[EmbeddingDataHandler | QueryEmbeddingHandler]] = {
    DataCategory.POSTS: PostEmbeddingHandler,
    DataCategory.ARTICLES: ArticleEmbeddingHandler,
    DataCategory.REPOSITORIES: RepositoryEmbeddingHandler,
    DataCategory.QUERIES: QueryEmbeddingHandler,
}
