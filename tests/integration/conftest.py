"""Fixtures shared by the RAG integration tests: the real MiniLM embedder and the demo corpus indexed into
the test warehouse and vector store."""

import pytest


@pytest.fixture(scope="module")
def embedder():
    from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture
def demo_index(documents, vector_index, embedder):
    from tests.rag_fixtures import index_demo_corpus

    return index_demo_corpus(documents, vector_index, embedder)
