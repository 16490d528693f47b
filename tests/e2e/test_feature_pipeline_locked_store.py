"""The feature pipeline checks that it can open its vector store before any work: with the embedded Qdrant
folder held by another process, the run fails in its first step, before the warehouse is read, anything is
cleaned or the embedding model is loaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import CEILING_S

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Opens the folder in Qdrant local mode (which locks it), says so, and holds it until stdin closes.
HOLDER = textwrap.dedent(
    """
    import sys
    from qdrant_client import QdrantClient

    client = QdrantClient(path=sys.argv[1])
    print("holding", flush=True)
    sys.stdin.read()
    client.close()
    """
)


class Spy:
    """Stands in for an adapter: records every attribute asked of it, and fails the use."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.used: list[str] = []

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        self.used.append(attribute)
        raise AssertionError(f"the {self.name} was used ({attribute}) before the vector store was checked")


@pytest.fixture
def held_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "qdrant"
    folder.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        yield folder
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=CEILING_S)


@pytest.fixture
def settings_on(held_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from llm_engineering.settings import get_settings

    monkeypatch.delenv("QDRANT_URL", raising=False)
    monkeypatch.setenv("QDRANT_LOCAL_PATH", str(held_folder))
    monkeypatch.setenv("LOCAL_DATA_DIR", str(tmp_path / "local"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_run_fails_in_its_first_step_before_reading_cleaning_or_embedding(settings_on: None) -> None:
    from zenml.client import Client

    from llm_engineering import bootstrap
    from pipelines.feature_engineering import feature_engineering

    warehouse, embedder = Spy("warehouse"), Spy("embedder")
    # The vector store is built from the settings: Qdrant local mode on the held folder.
    bootstrap.configure(None, warehouse=warehouse, embedder=embedder)
    run_name = "feature_engineering_locked_store_test"
    try:
        with pytest.raises(Exception):  # noqa: B017 - ZenML wraps the step's error; checked on the run
            feature_engineering.with_options(run_name=run_name, enable_cache=False)(author_full_names=["Ada"])
    finally:
        bootstrap.reset()

    run = Client().get_pipeline_run(run_name)
    assert str(run.status) == "failed"
    first = run.steps["query_data_warehouse"]
    assert str(first.status) == "failed"
    message = first.exception_info.message if first.exception_info else ""
    assert "VectorStoreLockedError" in message or "open in another process" in message, message
    assert "stop that process first" in message or "QDRANT_URL" in message, message
    # Nothing downstream ran, and neither the warehouse nor the embedder was touched.
    ran = {name for name, step in run.steps.items() if str(step.status) not in {"skipped"}}
    assert ran == {"query_data_warehouse"}, {name: str(step.status) for name, step in run.steps.items()}
    assert warehouse.used == [] and embedder.used == []
