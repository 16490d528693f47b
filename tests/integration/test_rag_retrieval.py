"""Retrieval on the real stores (nx-27017 warehouse, Qdrant local mode), the real MiniLM embedder and a real
LLM server process (tiny model), plus self-query against the real warehouse."""

import pytest

from llm_engineering.application.rag.answering import AnswerGenerator
from llm_engineering.application.rag.query_expansion import QueryExpansion
from llm_engineering.application.rag.reranking import EmbeddingReranker
from llm_engineering.application.rag.retriever import ContextRetriever
from llm_engineering.application.rag.self_query import SelfQuery
from llm_engineering.domain.documents import UserDocument
from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient
from tests.rag_fixtures import DEMO_AUTHOR
from tests.unit.application.rag.fakes import ScriptedLLM

pytestmark = pytest.mark.integration


def _retriever(documents, index, embedder, llm):
    return ContextRetriever(
        index=index,
        embedder=embedder,
        reranker=EmbeddingReranker(embedder),
        self_query=SelfQuery(llm, documents),
        query_expansion=QueryExpansion(llm),
    )


def test_retrieval_and_answer_with_a_real_llm_server(demo_index, documents, vector_index, embedder, llm_server):
    llm = OpenAICompatibleClient(llm_server["base_url"], llm_server["model_id"])
    result = _retriever(documents, vector_index, embedder, llm).search_with_trace(
        "Why should a RAG system rerank passages with a cross-encoder before the prompt?", k=3
    )
    assert len(result.chunks) == 3
    assert result.chunks[0].chunk.link.endswith("rerank-before-you-prompt")
    trace = result.trace
    # A random tiny model cannot name an author: the fallback is recorded, never a crash or an invented filter.
    assert trace["self_query"]["status"] in {"fallback", "no_author"}
    assert not trace["self_query"].get("llm_unavailable")  # the server answered; only the content was unusable
    assert trace["author_id"] is None
    assert trace["query_expansion"]["status"] in {"fallback", "partial", "expanded"}
    assert trace["queries"][0].startswith("Why should a RAG system rerank")
    assert trace["reranker"] == "fusion (dense + keyword)" and trace["paths"]["search"] == "hybrid"

    answer = AnswerGenerator(llm).generate("Why rerank?", result)
    assert isinstance(answer.answer, str)
    # One source per document, best first, numbered from 1: the numbers the prompt's blocks carry.
    assert [source.link for source in answer.sources] == list(dict.fromkeys(item.chunk.link for item in result.chunks))
    assert [source.number for source in answer.sources] == list(range(1, len(answer.sources) + 1))
    assert sorted(chunk_id for source in answer.sources for chunk_id in source.chunk_ids) == sorted(
        str(item.chunk.id) for item in result.chunks
    )
    assert answer.trace["generation"]["answer_source"] in {"model", "extractive"}
    assert answer.trace["generation"]["completion_tokens"] >= 1


def test_self_query_filters_by_a_known_author_and_never_creates_users(demo_index, documents, vector_index, embedder):
    other = documents.save(UserDocument(first_name="Otto", last_name="Brandt"))
    users_before = documents.count(UserDocument)

    named = _retriever(documents, vector_index, embedder, ScriptedLLM(DEMO_AUTHOR, "none")).search_with_trace(
        f"I am {DEMO_AUTHOR}. Write about chunking.", k=3, expand_to_n_queries=1
    )
    assert named.trace["author_full_name"] == DEMO_AUTHOR
    assert {item.chunk.author_full_name for item in named.chunks} == {DEMO_AUTHOR}

    stranger = _retriever(documents, vector_index, embedder, ScriptedLLM("Jane Roe")).search_with_trace(
        "I am Jane Roe. Write about chunking.", k=3, expand_to_n_queries=1
    )
    assert stranger.trace["self_query"]["status"] == "unknown_author"
    assert stranger.chunks  # no filter: the whole store is searched

    nobody = _retriever(documents, vector_index, embedder, ScriptedLLM(other.full_name)).search_with_trace(
        f"I am {other.full_name}. Write about chunking.", k=3, expand_to_n_queries=1
    )
    assert nobody.trace["author_full_name"] == "Otto Brandt"
    assert nobody.chunks == []  # Otto wrote nothing: the filter is applied, nothing leaks from Mara
    assert documents.count(UserDocument) == users_before
    assert documents.find(UserDocument, first_name="Jane", last_name="Roe") is None
