"""One copy per article on a real nx-27017 warehouse and Qdrant local mode: a store built before copies were
folded holds both copies; the next feature run keeps one (with both links), removes the other's points,
and a re-run changes nothing. Retrieval never puts both copies in one result, before or after."""

from __future__ import annotations

import pytest

from llm_engineering.application.preprocessing.dispatchers import CleaningDispatcher
from llm_engineering.application.preprocessing.feature_engineering import (
    chunk_and_embed,
    clean_documents,
    query_warehouse,
)
from llm_engineering.application.preprocessing.feature_store import (
    document_id_for_link,
    folded_copy_ids,
    load_documents,
)
from llm_engineering.application.rag.query_expansion import QueryExpansion
from llm_engineering.application.rag.reranking import EmbeddingReranker
from llm_engineering.application.rag.retriever import ContextRetriever
from llm_engineering.application.rag.self_query import SelfQuery
from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.domain.base.vector import VectorIndex
from llm_engineering.domain.cleaned_documents import CleanedArticleDocument
from llm_engineering.domain.documents import ArticleDocument, UserDocument
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk

pytestmark = pytest.mark.integration

MEDIUM = "https://medium.com/decodingml/advanced-rag-5d0c7f1199d2"
SUBSTACK = "https://decodingml.substack.com/p/advanced-rag"
SECTIONS = [
    "Query expansion asks the language model for several rewordings of the question, so that one phrasing does "
    + "not decide which passages are found. Each rewording is searched and the hits are fused.",
    "Self-query reads the request for the author it names and turns that name into a filter on the vector search, "
    + "so only that author's writing is considered at all.",
    "Hybrid search runs a keyword search beside the dense one and fuses their candidates by reciprocal rank, "
    + "which finds names, acronyms and code identifiers the embedding alone misses.",
    "A cross-encoder reranker reads the question and each candidate passage together and orders them far better "
    + "than the cosine similarity of two embeddings computed apart.",
    "Finally the best passages are packed into the prompt within a budget of characters, best first, and the "
    + "model is asked to cite them by number.",
]


def seed(documents: DocumentRepository) -> dict[str, ArticleDocument]:
    """The full article on Medium, its abridged cross-post on Substack (with Substack chrome), another article."""
    user = documents.save(UserDocument(first_name="Paul", last_name="Iusztin"))

    def article(link: str, platform: str, content: str, title: str) -> ArticleDocument:
        return documents.save(
            ArticleDocument(
                content={"Title": title, "Subtitle": None, "Content": content},
                platform=platform,
                link=link,
                author_id=user.id,
                author_full_name=user.full_name,
            )
        )

    substack_chrome = "SubscribeSign in\n\nShare this post\n\nCopy link\n\nFacebook\n\nEmail\n\n"
    return {
        "medium": article(MEDIUM, "medium", "\n\n".join(SECTIONS), "The 4 Advanced RAG Algorithms"),
        "substack": article(
            SUBSTACK,
            "decodingml.substack.com",
            substack_chrome + "\n\n".join(SECTIONS[:4]),
            "4 Advanced RAG Algorithms",
        ),
        "other": article(
            "https://decodingml.substack.com/p/sourdough",
            "decodingml.substack.com",
            "Sourdough bread needs a long cold fermentation in the fridge, and a starter fed twice a day. " * 4,
            "Bread",
        ),
    }


def build_store_as_before(documents: DocumentRepository, index: VectorIndex, embedder) -> None:
    """What a run before copies were folded stored: every document cleaned and embedded on its own."""
    raw = query_warehouse(documents, ["Paul Iusztin"]).documents
    cleaned = [CleaningDispatcher.dispatch(document) for document in raw]
    load_documents(index, cleaned)
    load_documents(index, chunk_and_embed(index, cleaned, embedder, incremental=False).chunks)


def run_features(documents: DocumentRepository, index: VectorIndex, embedder):
    snapshot = query_warehouse(documents, ["Paul Iusztin"])
    cleaned = clean_documents(snapshot.documents)
    cleaned_load = load_documents(index, cleaned.documents)
    result = chunk_and_embed(index, cleaned.documents, embedder)
    load_documents(index, result.chunks)
    return cleaned, cleaned_load, result


def retrieved_texts(index: VectorIndex, embedder, query: str) -> tuple[list[str], dict]:
    retriever = ContextRetriever(
        index=index,
        embedder=embedder,
        reranker=EmbeddingReranker(embedder),
        self_query=SelfQuery(None),
        query_expansion=QueryExpansion(None),
    )
    result = retriever.search_with_trace(query, k=4, expand_to_n_queries=1)
    return [item.chunk.content for item in result.chunks], result.trace


def test_copies_are_folded_in_the_store_and_a_rerun_changes_nothing(documents, vector_index, embedder):
    seeded = seed(documents)
    build_store_as_before(documents, vector_index, embedder)
    substack_id, medium_id = str(seeded["substack"].id), str(seeded["medium"].id)
    assert {str(c.document_id) for c in vector_index.find_all(EmbeddedArticleChunk)} >= {substack_id, medium_id}

    # Before the run the store holds both copies, yet one search result never repeats the same text.
    texts, trace = retrieved_texts(
        vector_index, embedder, "How does a cross-encoder reranker order the candidate passages?"
    )
    assert trace["copies_dropped"] >= 1
    assert sum("cross-encoder reranker reads the question" in text for text in texts) == 1

    cleaned, cleaned_load, _ = run_features(documents, vector_index, embedder)
    assert [group.as_dict()["folded"][0]["link"] for group in cleaned.duplicate_groups] == [SUBSTACK]
    assert cleaned_load.copies_removed["cleaned_articles"] == 1 and cleaned_load.copies_removed["embedded_articles"] > 0
    stored = {str(document.id): document for document in vector_index.find_all(CleanedArticleDocument)}
    assert substack_id not in stored and stored[medium_id].links == [MEDIUM, SUBSTACK]
    assert substack_id not in {str(c.document_id) for c in vector_index.find_all(EmbeddedArticleChunk)}
    # Either link finds the kept article: in the chunks' payload, in the feature store, for evaluations.
    assert {str(c.document_id) for c in vector_index.find_all(EmbeddedArticleChunk, links=SUBSTACK)} == {medium_id}
    assert document_id_for_link(vector_index, SUBSTACK) == document_id_for_link(vector_index, MEDIUM) == medium_id
    assert folded_copy_ids(vector_index) == {substack_id: medium_id}

    counts = (vector_index.count(CleanedArticleDocument), vector_index.count(EmbeddedArticleChunk))
    _, again_load, again = run_features(documents, vector_index, embedder)
    assert again.chunked == [] and len(again.skipped_unchanged) == 2
    assert set(again_load.copies_removed.values()) == {0}
    assert (vector_index.count(CleanedArticleDocument), vector_index.count(EmbeddedArticleChunk)) == counts
