"""The feature pipeline over the book's corpus (76 articles, 5 of them cross-posted copies folded into
another): chunk limits, coverage, no platform chrome, title retrieval by either copy.

Skipped when ../shared/data/handbook is absent. The corpus is imported and embedded once per module.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from llm_engineering.application.preprocessing.chunking_data_handlers import text_to_embed
from llm_engineering.application.preprocessing.cleaning_data_handlers import ArticleCleaningHandler
from llm_engineering.application.preprocessing.feature_engineering import (
    chunk_and_embed,
    clean_documents,
    query_warehouse,
)
from llm_engineering.application.preprocessing.feature_store import load_documents
from llm_engineering.application.preprocessing.operations.chunking import TextChunk, uncovered_text
from llm_engineering.application.preprocessing.operations.page_chrome import chrome_markers
from llm_engineering.application.warehouse.backup import import_warehouse
from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.domain.base.vector import VectorIndex
from llm_engineering.domain.cleaned_documents import CleanedArticleDocument
from llm_engineering.domain.documents import ArticleDocument
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk
from llm_engineering.infrastructure.db.mongo import MongoWarehouse
from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore
from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder
from tests.conftest import HANDBOOK_DIR, WAREHOUSE_TIMEOUT_S

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AUTHORS = ["Maxime Labonne", "Paul Iusztin"]
# Substack copies of Medium articles (and one the other way round), measured by bench/duplicates.py.
FOLDED_COPIES = 5


@dataclass
class Corpus:
    documents: DocumentRepository
    index: VectorIndex
    raw: list[ArticleDocument]
    cleaned: dict[str, CleanedArticleDocument]
    chunks: dict[str, list[EmbeddedArticleChunk]]
    embedder: SentenceTransformerEmbedder


@pytest.fixture(scope="module")
def corpus(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    warehouse_dir = HANDBOOK_DIR / "warehouse"
    if not warehouse_dir.is_dir():
        pytest.skip(f"the book's warehouse backup is not beside the project ({warehouse_dir} is absent)")
    warehouse = MongoWarehouse(mongo_uri, f"handbook_{uuid.uuid4().hex[:8]}", timeout_s=WAREHOUSE_TIMEOUT_S)
    store = QdrantVectorStore(path=Path(tmp_path_factory.mktemp("handbook")) / "qdrant")
    documents, index = DocumentRepository(warehouse), VectorIndex(store)
    try:
        import_warehouse(documents, warehouse_dir)
        embedder = SentenceTransformerEmbedder()
        snapshot = query_warehouse(documents, AUTHORS)
        cleaned = clean_documents(snapshot.documents)
        assert cleaned.failures == []
        load_documents(index, cleaned.documents)
        result = chunk_and_embed(index, cleaned.documents, embedder)
        report = load_documents(index, result.chunks)
        assert report.failed_batches == 0 and result.failed_documents == {}
        chunks: dict[str, list[EmbeddedArticleChunk]] = defaultdict(list)
        for chunk in result.chunks:
            chunks[str(chunk.document_id)].append(chunk)  # type: ignore[arg-type]
        yield Corpus(
            index=index,
            documents=documents,
            raw=[d for d in snapshot.documents if isinstance(d, ArticleDocument)],
            cleaned={str(d.id): d for d in cleaned.documents},  # type: ignore[misc]
            chunks=dict(chunks),
            embedder=embedder,
        )
    finally:
        store.close()
        warehouse.drop_database()
        warehouse.close()


def kept_id(corpus: Corpus, raw_id: str) -> str:
    """The stored document holding a raw article: itself, or the document its copy was folded into."""
    return next((i for i, d in corpus.cleaned.items() if raw_id == i or raw_id in d.duplicate_ids), raw_id)


def test_every_article_yields_chunks_within_the_limits(corpus):
    assert len(corpus.raw) == 76 and len(corpus.cleaned) == 76 - FOLDED_COPIES
    assert set(corpus.chunks) == set(corpus.cleaned)
    limit = corpus.embedder.max_input_tokens
    for document_id, chunks in corpus.chunks.items():
        for chunk in chunks:
            assert len(chunk.content) <= 2000, document_id
            # Counted again with the model's tokenizer on what it reads (title header + chunk): never truncated.
            assert corpus.embedder.count_tokens(text_to_embed(chunk)) == chunk.metadata["token_count"] <= limit
    assert corpus.index.count(EmbeddedArticleChunk) == sum(len(chunks) for chunks in corpus.chunks.values())


def test_chunks_cover_all_of_each_cleaned_document(corpus):
    for document_id, cleaned in corpus.cleaned.items():
        chunks = sorted(corpus.chunks[document_id], key=lambda chunk: chunk.metadata["chunk_index"])
        spans = [
            TextChunk(c.content, c.metadata["start"], c.metadata["end"], c.metadata["token_count"]) for c in chunks
        ]
        for span in spans:
            assert cleaned.content[span.start : span.end] == span.text
        assert uncovered_text(cleaned.content, spans) == "", document_id
        # Paragraph breaks survive cleaning (the book's cleaner flattened them).
        assert "\n\n" in cleaned.content


def test_copies_are_folded_with_every_link_and_no_chunk_holds_chrome(corpus):
    folded = [i for d in corpus.cleaned.values() for i in d.duplicate_ids]
    assert len(folded) == FOLDED_COPIES and not set(folded) & set(corpus.cleaned)
    links = {str(article.id): article.link for article in corpus.raw}
    for document_id, document in corpus.cleaned.items():
        assert document.links == [links[document_id], *(links[i] for i in document.duplicate_ids)]
        assert all(chunk.links == document.links for chunk in corpus.chunks[document_id])
    # Done when no chunk of the corpus holds "Sign in" / "Open in app" (nor any other chrome marker).
    assert [m for chunks in corpus.chunks.values() for chunk in chunks for m in chrome_markers(chunk.content)] == []
    # Either copy's link finds the kept article's chunks.
    for document_id, document in corpus.cleaned.items():
        for link in document.links[1:]:
            assert {str(c.document_id) for c in corpus.index.find_all(EmbeddedArticleChunk, links=link)} == {
                document_id
            }


def title_share(corpus: Corpus, titles: list[str]) -> float:
    """Share of the raw articles whose title (one per article) finds the stored copy in the top 5 chunks."""
    vectors = corpus.embedder.embed(titles)
    found = []
    for article, vector in zip(corpus.raw, vectors, strict=True):
        hits = corpus.index.search(EmbeddedArticleChunk, vector, limit=5)
        # A folded copy's title must find the copy that was kept.
        found.append(kept_id(corpus, str(article.id)) in {str(hit.document_id) for hit in hits})
    return sum(found) / len(found)


def test_an_articles_title_finds_it_among_the_top_5(corpus):
    # The article's title as the pipeline records it (the page's <title> without "- by <author>" or the site).
    titles = [ArticleCleaningHandler().clean(article).title or "" for article in corpus.raw]
    share = title_share(corpus, titles)
    assert share >= 0.95, f"only {share:.0%} of titles retrieve their article in the top 5"
    # The page <title> as stored ("The ultimate MLOps tool - by Paul Iusztin"): the decoration is no longer
    # embedded, nor the chrome that made a first chunk mostly title (74/76 before, 71/76 measured after).
    page_titles = title_share(corpus, [article.content["Title"] for article in corpus.raw])
    assert page_titles >= 0.9, f"only {page_titles:.0%} of page titles retrieve their article in the top 5"


def test_rerun_over_the_corpus_embeds_nothing(corpus):
    snapshot = query_warehouse(corpus.documents, AUTHORS)
    cleaned = clean_documents(snapshot.documents).documents
    result = chunk_and_embed(corpus.index, cleaned, corpus.embedder)
    assert result.chunked == [] and len(result.skipped_unchanged) == 76 - FOLDED_COPIES
    # Loading the same cleaned documents again removes nothing more and adds nothing.
    before = corpus.index.count(EmbeddedArticleChunk)
    report = load_documents(corpus.index, cleaned)
    assert set(report.copies_removed.values()) == {0} and corpus.index.count(EmbeddedArticleChunk) == before
