import uuid

import numpy as np
import pytest

from llm_engineering.domain.base.ports import VectorPoint
from llm_engineering.domain.base.vector import VectorBaseDocument
from llm_engineering.domain.cleaned_documents import CleanedArticleDocument, CleanedPostDocument
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk, EmbeddedRepositoryChunk
from llm_engineering.domain.exceptions import ImproperlyConfigured, InvalidDocumentError
from llm_engineering.domain.queries import EmbeddedQuery, Query
from llm_engineering.domain.types import DataCategory


def _chunk(**overrides):
    values = {
        "content": "chunk text",
        "embedding": [0.1, 0.2, 0.3],
        "platform": "medium",
        "document_id": uuid.uuid4(),
        "author_id": uuid.uuid4(),
        "author_full_name": "Ada Lovelace",
        "link": "https://example.com/a",
        "metadata": {"chunk_index": 0, "nested": {"id": "x"}},
    }
    values.update(overrides)
    return EmbeddedArticleChunk(**values)


def test_to_point_moves_fields_to_payload_and_embedding_to_vector():
    chunk = _chunk(embedding=np.array([0.5, 0.25]))
    point = chunk.to_point()
    assert point.id == str(chunk.id)
    assert point.vector == [0.5, 0.25]
    assert "embedding" not in point.payload and "id" not in point.payload
    assert point.payload["document_id"] == str(chunk.document_id)
    assert point.payload["metadata"]["nested"] == {"id": "x"}


def test_from_point_restores_embedding_only_for_classes_that_have_one():
    chunk = _chunk()
    again = EmbeddedArticleChunk.from_point(chunk.to_point())
    assert again == chunk and again.embedding == chunk.embedding
    cleaned = CleanedArticleDocument(
        content="x", platform="p", author_id=uuid.uuid4(), author_full_name="A", link="https://x"
    )
    restored = CleanedArticleDocument.from_point(VectorPoint(id=str(cleaned.id), payload=cleaned.to_point().payload))
    assert restored.model_dump() == cleaned.model_dump()


def test_from_point_with_bad_payload_names_the_point():
    with pytest.raises(InvalidDocumentError, match="point"):
        EmbeddedArticleChunk.from_point(VectorPoint(id=str(uuid.uuid4()), payload={"content": "x"}))


def test_config_lookups():
    assert CleanedPostDocument.get_collection_name() == "cleaned_posts"
    assert CleanedPostDocument.get_use_vector_index() is False
    assert EmbeddedRepositoryChunk.get_use_vector_index() is True
    assert EmbeddedRepositoryChunk.get_category() is DataCategory.REPOSITORIES
    assert Query.get_category() is DataCategory.QUERIES
    with pytest.raises(ImproperlyConfigured, match="name"):
        Query.get_collection_name()


def test_collection_name_to_class_searches_all_depths():
    assert VectorBaseDocument.collection_name_to_class("embedded_articles") is EmbeddedArticleChunk
    assert VectorBaseDocument.collection_name_to_class("cleaned_posts") is CleanedPostDocument
    with pytest.raises(ValueError, match="nope"):
        VectorBaseDocument.collection_name_to_class("nope")


def test_group_by_class_and_category():
    article = _chunk()
    repo = EmbeddedRepositoryChunk(
        content="c",
        embedding=[1.0],
        platform="github",
        document_id=uuid.uuid4(),
        author_id=uuid.uuid4(),
        author_full_name="A",
        name="r",
        link="https://github.com/a/r",
    )
    by_class = VectorBaseDocument.group_by_class([article, repo, article])
    assert by_class == {EmbeddedArticleChunk: [article, article], EmbeddedRepositoryChunk: [repo]}
    by_category = VectorBaseDocument.group_by_category([article, repo])
    assert set(by_category) == {DataCategory.ARTICLES, DataCategory.REPOSITORIES}


def test_query_helpers():
    query = Query.from_str("  What is RAG?\n")
    assert query.content == "What is RAG?"
    replaced = query.replace_content("Explain RAG")
    assert replaced.id == query.id and replaced.content == "Explain RAG"
    embedded = EmbeddedQuery(content="q", embedding=[0.0, 1.0])
    assert embedded.to_point().vector == [0.0, 1.0]
