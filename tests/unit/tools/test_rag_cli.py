"""`call-rag-retrieval-module` (tools/rag.py) is retrieval only: it prints chunks and documents, no LLM call."""

import uuid

from click.testing import CliRunner

from llm_engineering import bootstrap
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk
from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore
from llm_engineering.settings import load_settings
from tests.unit.application.rag.fakes import BagOfWordsEmbedder, ScriptedLLM
from tools import rag


class NoLLM(ScriptedLLM):
    def chat(self, messages, parameters=None):
        raise AssertionError("retrieval only must not call the LLM")


def test_the_retrieval_module_prints_chunks_and_documents_without_the_llm(tmp_path):
    embedder = BagOfWordsEmbedder()
    store = QdrantVectorStore(path=":memory:")
    document = uuid.uuid4()
    texts = ["rerank the retrieved passages", "rerank before the prompt", "sourdough bread"]
    settings = load_settings(env_file=tmp_path / "none.env", RERANKER="bi-encoder")
    bootstrap.configure(settings, vector_store=store, warehouse=object(), embedder=embedder, llm=NoLLM("x"))
    try:
        EmbeddedArticleChunk.bulk_insert(
            [
                EmbeddedArticleChunk(
                    content=text,
                    embedding=vector,
                    platform="blog",
                    document_id=document if i < 2 else uuid.uuid4(),
                    author_id=uuid.uuid4(),
                    author_full_name="Mara Quillon",
                    link=f"https://quillon.example/{i}",
                )
                for i, (text, vector) in enumerate(zip(texts, embedder.embed(texts), strict=True))
            ]
        )
        result = CliRunner().invoke(rag.main, ["--query", "rerank passages", "--k", "2"])
    finally:
        bootstrap.reset()
        store.close()
    assert result.exit_code == 0, result.output
    assert "self-query: skipped" in result.output and "expansion: skipped" in result.output
    assert "[1] score=" in result.output and "[2] score=" in result.output
    assert "2 chunks from 1 documents:" in result.output
