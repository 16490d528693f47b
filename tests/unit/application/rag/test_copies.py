"""One copy per prompt: passages repeating a better-ranked one (a second stored copy of an article) are left out."""

from __future__ import annotations

import uuid

import pytest

from llm_engineering.application.rag.copies import drop_copies
from llm_engineering.application.rag.query_expansion import QueryExpansion
from llm_engineering.application.rag.reranking import EmbeddingReranker
from llm_engineering.application.rag.retriever import ContextRetriever, ScoredChunk
from llm_engineering.application.rag.self_query import SelfQuery
from llm_engineering.domain.base.vector import VectorIndex
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk
from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore
from tests.unit.application.rag.fakes import BagOfWordsEmbedder

AUTHOR = uuid.uuid4()
MEDIUM, SUBSTACK = "https://medium.com/decodingml/rag-5d0c7f1199d2", "https://decodingml.substack.com/p/rag"
TEXT = (
    "A reranker reads the question and each retrieved passage together and scores how well the passage answers "
    "it, which orders the candidates far better than the cosine similarity of two separate embeddings."
)


def chunk(text: str, link: str, document_id: uuid.UUID | None = None, links: list[str] | None = None):
    return EmbeddedArticleChunk(
        content=text,
        embedding=None,
        platform="medium" if "medium" in link else "substack",
        document_id=document_id or uuid.uuid4(),
        author_id=AUTHOR,
        author_full_name="Paul Iusztin",
        link=link,
        links=links or [],
    )


def ranked(*chunks: EmbeddedArticleChunk) -> list[ScoredChunk]:
    return [ScoredChunk(item, 1.0 - rank / 10) for rank, item in enumerate(chunks)]


def test_a_second_copy_of_the_same_text_is_left_out():
    other = chunk(
        "Chunking along headings keeps every passage coherent and answerable on its own.", "https://x.example"
    )
    kept, dropped = drop_copies(ranked(chunk(TEXT, MEDIUM), chunk(TEXT.replace("far ", ""), SUBSTACK), other))
    assert [item.chunk.link for item in kept] == [MEDIUM, "https://x.example"] and dropped == 1


def test_a_document_known_by_a_kept_documents_link_is_a_copy():
    medium = chunk(TEXT, MEDIUM, links=[MEDIUM, SUBSTACK])
    substack_elsewhere = chunk("An unrelated section of the Substack copy about costs and GPUs.", SUBSTACK)
    kept, dropped = drop_copies(ranked(medium, substack_elsewhere))
    assert kept == ranked(medium)[:1] and dropped == 1


def test_several_passages_of_one_document_all_stay_and_the_limit_counts_kept_ones():
    document = uuid.uuid4()
    parts = [
        chunk(f"Part {n} of the article explains step {n} of the pipeline in its own words.", MEDIUM, document)
        for n in range(4)
    ]
    copy = chunk(parts[0].content, SUBSTACK)
    kept, dropped = drop_copies(ranked(parts[0], copy, *parts[1:]), limit=3)
    assert [item.chunk.id for item in kept] == [part.id for part in parts[:3]] and dropped == 1


@pytest.fixture
def store_with_two_copies():
    """A store built before copies were folded: both copies of one article, chunked alike."""
    memory = QdrantVectorStore(path=":memory:")
    index = VectorIndex(memory)
    embedder = BagOfWordsEmbedder()
    texts = [
        (TEXT, MEDIUM),
        (TEXT, SUBSTACK),
        ("Sourdough bread needs a long cold fermentation overnight.", "https://b.example"),
    ]
    chunks = [chunk(text, link) for text, link in texts]
    for item, vector in zip(chunks, embedder.embed([text for text, _ in texts]), strict=True):
        item.embedding = vector
    index.bulk_insert(EmbeddedArticleChunk, chunks)
    yield index
    memory.close()


def test_the_retriever_never_puts_two_copies_in_one_result(store_with_two_copies):
    embedder = BagOfWordsEmbedder()
    retriever = ContextRetriever(
        index=store_with_two_copies,
        embedder=embedder,
        reranker=EmbeddingReranker(embedder),
        self_query=SelfQuery(None),
        query_expansion=QueryExpansion(None),
    )
    result = retriever.search_with_trace("how does a reranker score the retrieved passage", k=2, expand_to_n_queries=1)
    assert [item.chunk.content for item in result.chunks].count(TEXT) == 1
    assert len(result.chunks) == 2 and result.trace["copies_dropped"] == 1
