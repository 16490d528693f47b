"""Embedding handlers and dispatcher on a fake embedder (the real model is covered in infrastructure tests)."""

from __future__ import annotations

import uuid

import pytest

from llm_engineering.application.preprocessing.dispatchers import EmbeddingDispatcher
from llm_engineering.application.preprocessing.feature_store import feature_hash
from llm_engineering.domain.chunks import ArticleChunk, PostChunk, RepositoryChunk
from llm_engineering.domain.cleaned_documents import CleanedArticleDocument
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk, EmbeddedPostChunk, EmbeddedRepositoryChunk
from llm_engineering.domain.queries import EmbeddedQuery, Query

AUTHOR = uuid.uuid4()
DOCUMENT = uuid.uuid4()


class RecordingEmbedder:
    model_id = "fake/model"
    dimension = 2
    max_input_tokens = 16

    def __init__(self):
        self.calls: list[tuple[list[str], int | None]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2

    def embed(self, texts, batch_size=None):
        self.calls.append((list(texts), batch_size))
        return [[float(len(text)), 1.0] for text in texts]


def article_chunk(content: str) -> ArticleChunk:
    return ArticleChunk(
        content=content,
        platform="blog",
        document_id=DOCUMENT,
        author_id=AUTHOR,
        author_full_name="A B",
        link="https://a",
        metadata={"chunk_index": 0, "feature_hash": "f"},
    )


def test_one_batched_call_maps_each_chunk_to_its_embedded_class():
    embedder = RecordingEmbedder()
    chunks = [article_chunk("one"), article_chunk("three")]
    embedded = EmbeddingDispatcher(embedder, batch_size=8).dispatch(chunks)
    assert embedder.calls == [(["one", "three"], 8)]
    assert all(isinstance(item, EmbeddedArticleChunk) for item in embedded)
    assert [item.id for item in embedded] == [chunk.id for chunk in chunks]
    assert embedded[1].embedding == [5.0, 1.0] and embedded[0].link == "https://a"
    # Chunk metadata is kept and extended with the model's identity.
    assert embedded[0].metadata == {
        "chunk_index": 0,
        "feature_hash": "f",
        "embedding_model_id": "fake/model",
        "embedding_size": 2,
        "max_input_length": 16,
    }


def test_each_category_has_its_embedded_class():
    common = {"platform": "p", "document_id": DOCUMENT, "author_id": AUTHOR, "author_full_name": "A B"}
    dispatcher = EmbeddingDispatcher(RecordingEmbedder())
    assert isinstance(dispatcher.dispatch([PostChunk(content="x", **common)])[0], EmbeddedPostChunk)
    repository = RepositoryChunk(content="x", name="r", link="l", **common)
    assert isinstance(dispatcher.dispatch([repository])[0], EmbeddedRepositoryChunk)
    query = dispatcher.dispatch([Query.from_str("what is RAG?")])[0]
    assert isinstance(query, EmbeddedQuery) and query.metadata["embedding_model_id"] == "fake/model"


def test_empty_input_and_mixed_categories():
    dispatcher = EmbeddingDispatcher(RecordingEmbedder())
    assert dispatcher.dispatch([]) == []
    post = PostChunk(content="x", platform="p", document_id=DOCUMENT, author_id=AUTHOR, author_full_name="A B")
    with pytest.raises(ValueError, match="one category"):
        dispatcher.dispatch([article_chunk("a"), post])


def test_feature_hash_tracks_content_chunking_and_model():
    document = CleanedArticleDocument(
        content="x", platform="p", link="l", author_id=AUTHOR, author_full_name="A", content_hash="c1"
    )
    base = feature_hash(document, {"max_tokens": 256}, "m")
    assert feature_hash(document, {"max_tokens": 256}, "m") == base
    assert feature_hash(document.model_copy(update={"content_hash": "c2"}), {"max_tokens": 256}, "m") != base
    assert feature_hash(document, {"max_tokens": 128}, "m") != base
    assert feature_hash(document, {"max_tokens": 256}, "other") != base


def test_the_context_header_is_embedded_but_not_stored_in_the_content():
    embedder = RecordingEmbedder()
    chunk = article_chunk("deep inside the article")
    chunk.metadata["context_header"] = "The title"
    embedded = EmbeddingDispatcher(embedder).dispatch([chunk])[0]
    assert embedder.calls[0][0] == ["The title\n\ndeep inside the article"]
    assert embedded.content == "deep inside the article"
