"""RAG evaluation over the real retriever (nx-27017 warehouse, Qdrant local mode, MiniLM) on the demo corpus,
with hand-written labelled queries whose relevant documents are known."""

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from llm_engineering.application.evaluation.labelled_queries import queries_from_cases
from llm_engineering.application.evaluation.rag_evaluation import evaluate_retrieval
from llm_engineering.application.rag.query_expansion import QueryExpansion
from llm_engineering.application.rag.reranking import EmbeddingReranker
from llm_engineering.application.rag.retriever import ContextRetriever
from llm_engineering.application.rag.self_query import SelfQuery
from llm_engineering.domain.documents import ArticleDocument
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration

CASES = PROJECT_ROOT / "tests" / "fixtures" / "rag_queries" / "demo.yaml"


def _resolver(documents):
    """Link -> id of the stored article (None when not stored)."""

    def resolve(link: str) -> str | None:
        document = documents.find(ArticleDocument, link=link)
        return str(document.id) if document else None

    return resolve


def _evaluate(index, embedder, queries, mode):
    retriever = ContextRetriever(
        index=index,
        embedder=embedder,
        reranker=EmbeddingReranker(embedder),
        self_query=SelfQuery(None),
        query_expansion=QueryExpansion(None),
        search_mode=mode,
    )

    def search(query: str) -> list[str]:
        return [str(chunk.document_id) for chunk in retriever.search(query, k=5, expand_to_n_queries=1)]

    return evaluate_retrieval(search, queries, k=3, mrr_k=10, progress=False)


def test_every_hand_written_query_finds_its_article_with_hybrid_search(demo_index, documents, vector_index, embedder):
    queries, skipped = queries_from_cases(yaml.safe_load(CASES.read_text()), _resolver(documents))
    assert len(queries) == 8 and skipped == []
    evaluation = _evaluate(vector_index, embedder, queries, "hybrid")
    dense = _evaluate(vector_index, embedder, queries, "dense")
    assert evaluation.overall["queries"] == dense.overall["queries"] == 8
    # Four distinct articles, each the obvious answer to its questions: all found in the top three.
    assert evaluation.overall["recall"] == 1.0 and evaluation.misses() == []
    assert evaluation.overall["mrr"] >= 0.9
    # The keyword half is what finds the one question the embedding alone misses.
    assert dense.overall["recall"] <= evaluation.overall["recall"]
    assert set(evaluation.by_query_type) == {"hand-written", "keywords"}
    assert evaluation.by_category["articles"]["queries"] == 8
    assert 0 < evaluation.latency_ms["p50"] <= evaluation.latency_ms["p95"]
    for result in evaluation.results:  # per-query scores are the metrics of that query's own hits
        assert result.hits and result.scores.recall in (0.0, 1.0)


def test_unknown_links_are_skipped_and_reported(demo_index, documents):
    cases = [
        {
            "query": "chunk size",
            "links": ["https://quillon.example/notes/chunking-is-a-product-decision"],
            "category": "articles",
        },
        {"query": "something else", "links": ["https://elsewhere.example/x"], "category": "articles"},
    ]
    queries, skipped = queries_from_cases(cases, _resolver(documents))
    assert [q.query for q in queries] == ["chunk size"] and skipped == ["something else"]
    with pytest.raises(ValueError, match="case 1"):
        queries_from_cases([{"query": "no links", "category": "articles"}], _resolver(documents))


def test_the_cli_prints_and_writes_the_report(demo_index, tmp_path: Path):
    from tools import rag_evaluation

    output = tmp_path / "rag_evaluation"
    result = CliRunner().invoke(
        rag_evaluation.main,
        ["--dataset", "none", "--queries", str(CASES), "--titles", "--output", str(output)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    markdown = output.with_suffix(".md").read_text()
    assert "hand-written" in markdown and "title" in markdown
    report = yaml.safe_load(output.with_suffix(".json").read_text())  # JSON is YAML
    assert report["overall"]["queries"] == 8 + 4  # the hand-written cases and one title per demo article
    assert report["settings"]["search_mode"] in {"hybrid", "dense"}
