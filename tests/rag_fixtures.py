"""Helpers for RAG integration and e2e tests: load the demo corpus into the stores, and run the API in a real
uvicorn process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from llm_engineering.infrastructure.local.api_server import WARM_UP_TIMEOUT_S
from llm_engineering.settings import Settings
from tests.conftest import PROJECT_ROOT, free_port
from tests.waiting import CEILING_S

DEMO_DIR = PROJECT_ROOT / "data" / "demo" / "articles"
DEMO_AUTHOR = "Mara Quillon"
API_APP = "tools.ml_service:app"
# uvicorn importing the app until /health answers (the models load after, in the warm-up): the shared ceiling.
API_STARTUP_TIMEOUT_S = CEILING_S
# A client's wait for the API started here: the service ends every request within its deadline (these tests
# keep the default API_REQUEST_TIMEOUT_S), with an answer or an error; a minute more for it to travel on a busy
# machine. A passing request returns long before; a client that gave up sooner would fail a working service.
RESPONSE_CEILING_S = Settings.model_fields["API_REQUEST_TIMEOUT_S"].default + 60.0
# pytest-timeout's backstop for a test on a server started here, above the waits' own ceilings so that they fail
# first and say what they waited for: the first test on a server also starts it and waits for its warm-up.
SERVER_TEST_TIMEOUT_S = int(API_STARTUP_TIMEOUT_S + WARM_UP_TIMEOUT_S + 2 * RESPONSE_CEILING_S)


def index_demo_corpus(documents, index, embedder) -> int:  # type: ignore[no-untyped-def]
    """Load the demo articles into the warehouse's `documents` and embed their paragraphs into the vector `index`.

    A paragraph-per-chunk index built here, independent of the feature pipeline, so retrieval tests
    exercise only retrieval. Returns the number of chunks.
    """
    from llm_engineering.application.warehouse.markdown_import import import_markdown_corpus
    from llm_engineering.domain.documents import ArticleDocument
    from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk

    import_markdown_corpus(documents, DEMO_DIR, DEMO_AUTHOR)
    chunks: list[EmbeddedArticleChunk] = []
    for article in documents.bulk_find(ArticleDocument, author_full_name=DEMO_AUTHOR):
        paragraphs = [p.strip() for p in article.content["Content"].split("\n\n") if p.strip()]
        vectors = embedder.embed(paragraphs)
        chunks += [
            EmbeddedArticleChunk(
                content=paragraph,
                embedding=vector,
                platform=article.platform,
                document_id=article.id,
                author_id=article.author_id,
                author_full_name=article.author_full_name,
                link=article.link,
                metadata={"title": article.content["Title"]},
            )
            for paragraph, vector in zip(paragraphs, vectors, strict=True)
        ]
    index.bulk_insert(EmbeddedArticleChunk, chunks)
    return len(chunks)


def index_demo_corpus_into(mongo_uri: str, database: str, qdrant_path: Path) -> int:
    """The demo corpus into warehouse database `database` and the Qdrant folder `qdrant_path`, both released
    afterwards (an API process must be the only one holding the folder). Returns the number of chunks."""
    from llm_engineering.domain.base.nosql import DocumentRepository
    from llm_engineering.domain.base.vector import VectorIndex
    from llm_engineering.infrastructure.db.mongo import MongoWarehouse
    from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore
    from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder

    warehouse = MongoWarehouse(mongo_uri, database, unique_fields={"articles": ("link",)})
    store = QdrantVectorStore(path=qdrant_path)
    try:
        return index_demo_corpus(DocumentRepository(warehouse), VectorIndex(store), SentenceTransformerEmbedder())
    finally:
        store.close()
        warehouse.close()
        warehouse.close()


@contextmanager
def running_api(environment: dict[str, str], log_dir: Path, wait_warm: bool = True) -> Iterator[str]:
    """`uvicorn tools.ml_service:app` on a free port with these settings (never a developer .env); yields its URL
    once warmed up (`wait_warm=False`: as soon as /health answers). Its log is `log_dir/api-<port>.log`."""
    from llm_engineering.infrastructure.local.api_server import running_api as api_process

    port = free_port()
    env = {"ENV_FILE": str(PROJECT_ROOT / "tests" / "no.env"), **environment}
    warm_up_timeout_s = WARM_UP_TIMEOUT_S if wait_warm else None
    with api_process(
        API_APP,
        log_dir / f"api-{port}.log",
        environment=env,
        port=port,
        startup_timeout_s=API_STARTUP_TIMEOUT_S,
        warm_up_timeout_s=warm_up_timeout_s,
    ) as base:
        yield base
