"""`call-rag-retrieval-module` (tools/rag.py) is retrieval only: it prints chunks and documents, no LLM call."""

from click.testing import CliRunner

from llm_engineering import bootstrap
from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore
from llm_engineering.settings import load_settings
from tests.unit.application.rag.fakes import BagOfWordsEmbedder, NoLLM, ScriptedLLM, insert_rerank_chunks
from tools import rag


def test_the_retrieval_module_prints_chunks_and_documents_without_the_llm(tmp_path):
    embedder = BagOfWordsEmbedder()
    store = QdrantVectorStore(path=":memory:")
    settings = load_settings(env_file=tmp_path / "none.env", RERANKER="bi-encoder")
    container = bootstrap.configure(settings, vector_store=store, warehouse=object(), embedder=embedder, llm=NoLLM("x"))
    try:
        insert_rerank_chunks(container.vector_index(), embedder)
        result = CliRunner().invoke(rag.main, ["--query", "rerank passages", "--k", "2"])
    finally:
        bootstrap.reset()
        store.close()
    assert result.exit_code == 0, result.output
    assert "self-query: skipped" in result.output and "expansion: skipped" in result.output
    assert "[1] score=" in result.output and "[2] score=" in result.output
    assert "2 chunks from 1 documents:" in result.output


def test_reprobe_configures_settings_that_ignore_the_cached_verdicts(monkeypatch):
    embedder, store, seen = BagOfWordsEmbedder(), QdrantVectorStore(path=":memory:"), []
    configure = bootstrap.configure

    def configure_with_fakes(settings, **adapters):  # type: ignore[no-untyped-def]
        seen.append(settings.RAG_REPROBE_CAPABILITIES)
        llm = ScriptedLLM("### Response", "### Response")  # fails both probes, one call each
        return configure(settings, vector_store=store, warehouse=object(), embedder=embedder, llm=llm)

    monkeypatch.setenv("RERANKER", "bi-encoder")
    monkeypatch.setattr(bootstrap, "configure", configure_with_fakes)
    try:
        arguments = ["--query", "rerank passages", "--with-llm-steps", "--reprobe"]
        result = CliRunner().invoke(rag.main, arguments)
    finally:
        bootstrap.reset()
        store.close()
    assert result.exit_code == 0, result.output
    assert seen == [True]
    assert "self-query: skipped" in result.output and "expansion: skipped" in result.output
