"""Shared fixtures: real local processes for integration tests (nx-27017, Qdrant local mode)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Re-exported to test modules: the project's own helpers, so tests start processes the way the tools do.
from llm_engineering.infrastructure.local.processes import free_port, wait_for_port  # noqa: F401
from llm_engineering.infrastructure.local.warehouse import embedded_warehouse

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The session's warehouse server is up: a connection is there at once when idle. A busy machine may slow it
# down; the socket timeout, six times this, bounds the longest operation (a bulk insert, an aggregation).
WAREHOUSE_TIMEOUT_S = 30.0
HANDBOOK_DIR = PROJECT_ROOT.parent / "shared" / "data" / "handbook"

# Tests never read the developer's .env nor reach a hub.
os.environ.setdefault("ENV_FILE", str(PROJECT_ROOT / "tests" / "no.env"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# ZenML keeps its store under a throwaway folder, never the developer's ~/.config/zenml nor the checkout's
# .local/zenml (a ZENML_CONFIG_PATH set here is a user's choice: `use_project_zenml_store` keeps it).
os.environ.setdefault("ZENML_CONFIG_PATH", tempfile.mkdtemp(prefix="zenml-tests-"))
# The OpenVINO embedder's exports: one per session, shared by the processes tests start, never in .local.
os.environ.setdefault("EMBEDDING_CACHE_DIR", tempfile.mkdtemp(prefix="embedding-exports-tests-"))
os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
# No crash reports to Sentry from the tracking clients (the network is closed; they only log noise).
os.environ.setdefault("COMET_ERROR_TRACKING_ENABLE", "false")
os.environ.setdefault("OPIK_SENTRY_ENABLE", "false")
os.environ.setdefault("ZENML_LOGGING_VERBOSITY", "WARN")


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real nx-27017 MongoDB wire-protocol server on a free port, for the whole session."""
    with embedded_warehouse(tmp_path_factory.mktemp("nx27017")) as uri:
        yield uri


@pytest.fixture
def warehouse(mongo_uri: str) -> Iterator[object]:
    """A MongoWarehouse on a fresh database, injected into the current container."""
    from llm_engineering import bootstrap
    from llm_engineering.infrastructure.db.mongo import MongoWarehouse

    store = MongoWarehouse(
        mongo_uri,
        f"test_{uuid.uuid4().hex[:10]}",
        timeout_s=WAREHOUSE_TIMEOUT_S,
        unique_fields={"articles": ("link",), "repositories": ("link",)},
    )
    bootstrap.override(warehouse=store)
    try:
        yield store
    finally:
        bootstrap.reset()
        try:
            store.drop_database()
        finally:
            store.close()


@pytest.fixture
def documents(warehouse: object) -> object:
    """The `warehouse` fixture's documents: the repository the current container hands to use cases."""
    from llm_engineering import bootstrap

    return bootstrap.container().documents()


@pytest.fixture
def vector_store(tmp_path: Path) -> Iterator[object]:
    """Qdrant in embedded local mode on a temporary folder, injected into the current container."""
    from llm_engineering import bootstrap
    from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore

    store = QdrantVectorStore(path=tmp_path / "qdrant")
    bootstrap.override(vector_store=store)
    try:
        yield store
    finally:
        bootstrap.reset()
        store.close()


@pytest.fixture
def vector_index(vector_store: object) -> object:
    """The `vector_store` fixture's documents: the index the current container hands to use cases."""
    from llm_engineering import bootstrap

    return bootstrap.container().vector_index()


@pytest.fixture
def handbook_warehouse_dir() -> Path:
    path = HANDBOOK_DIR / "warehouse"
    if not path.is_dir():
        pytest.skip(f"the book's warehouse backup is not beside the project ({path} is absent)")
    return path


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A real OpenAI-compatible server (`transformers serve`) on 127.0.0.1 with a tiny model built here.

    Started once per session (about half a minute); yields base_url, model_id, port and startup_s.
    """
    from tests.llm_fixtures import serve_tiny_model

    yield from serve_tiny_model(tmp_path_factory.mktemp("tiny-llm"))
