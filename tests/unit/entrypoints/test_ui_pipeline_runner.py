"""The web UI runs the pipelines of the catalogue the app factory is given, and none without one: the runner
takes each pipeline and its config from the catalogue, never from the repository around the package."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from llm_engineering import bootstrap
from llm_engineering.application.operations.pipeline_catalogue import CataloguedPipeline, PipelineCatalogue
from llm_engineering.bootstrap import Container, pipeline_runs
from llm_engineering.bootstrap.pipeline_runs import ZenMLPipelineRunner
from llm_engineering.entrypoints.api import create_app
from llm_engineering.entrypoints.ui.errors import PipelineRunFailed
from llm_engineering.entrypoints.ui.jobs import NoPipelines
from llm_engineering.settings import load_settings
from tests.fixtures.memory_warehouse import MemoryWarehouse


class FakePipeline:
    """Stands for a ZenML pipeline: records `with_options` and returns a finished run with metadata."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def with_options(self, **options: Any):  # type: ignore[no-untyped-def]
        def run() -> Any:
            self.calls.append(
                {**options, "config": yaml.safe_load(Path(options["config_path"]).read_text(encoding="utf-8"))}
            )
            artifact = SimpleNamespace(run_metadata={"counted": 3})
            return SimpleNamespace(
                id="run-1",
                name=options["run_name"],
                status=SimpleNamespace(value="completed", is_finished=True),
                steps={"count": SimpleNamespace(outputs={"counts": [artifact]})},
            )

        return run


CRAWL = FakePipeline()  # loaded by the catalogue below from this module, as `pipelines/catalogue.py` does


class DummyVectorStore:
    """Never used: the fake pipeline reads no store."""


@pytest.fixture
def catalogue(tmp_path) -> PipelineCatalogue:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "crawl.yaml").write_text(yaml.safe_dump({"parameters": {"links": [], "depth": 1}}))
    summary = (("count", "counts", ("counted",)),)
    return PipelineCatalogue(configs, [CataloguedPipeline("crawl", __name__, "CRAWL", "crawl.yaml", summary=summary)])


@pytest.fixture
def container(tmp_path):
    settings = load_settings(env_file=tmp_path / "none.env", LOCAL_DATA_DIR=tmp_path / "local")
    yield Container(settings, warehouse=MemoryWarehouse(), vector_store=DummyVectorStore())
    bootstrap.reset()


def test_the_runner_runs_the_catalogued_pipeline_with_the_catalogued_config_and_the_jobs_parameters(
    catalogue, container, monkeypatch
):
    owned: list[str] = []

    class Owned:
        def __init__(self, run_name: str, records: Any = None):
            owned.append(run_name)

        def __enter__(self) -> None:
            return None

        def __exit__(self, *exc: object) -> None:
            return None

    # No ZenML store in a unit test: the run's owner records and its dashboard link are left out.
    monkeypatch.setattr(pipeline_runs, "owned_run", Owned)
    monkeypatch.setattr(pipeline_runs, "wait_until_finished", lambda run, pipeline, run_name: run)
    monkeypatch.setattr(pipeline_runs, "dashboard_url", lambda run, dashboard=None: None)
    CRAWL.calls.clear()

    result = ZenMLPipelineRunner(lambda: container, catalogue)("crawl", {"links": ["https://a.example"]}, "crawl_ui_1")

    [call] = CRAWL.calls
    assert call["run_name"] == "crawl_ui_1" and call["enable_cache"] is False
    assert call["config"] == {"parameters": {"links": ["https://a.example"], "depth": 1}}
    assert owned == ["crawl_ui_1"]
    assert (result.status, result.summary) == ("completed", {"counted": 3})
    # The catalogue's own file is left as it was: the job's parameters went into a copy.
    assert catalogue.parameters("crawl") == {"links": [], "depth": 1}


def test_a_pipeline_missing_from_the_catalogue_is_not_run(catalogue, container):
    with pytest.raises(KeyError, match="no pipeline 'feature_engineering' in the catalogue"):
        ZenMLPipelineRunner(lambda: container, catalogue)("feature_engineering", {}, "run")


def test_the_app_gives_the_ui_the_catalogue_it_was_built_with(catalogue, container):
    app = create_app(container.settings, container=container, warm_up_on_start=False, pipelines=catalogue)

    runner = app.state.ui_jobs.run_pipeline
    assert isinstance(runner, ZenMLPipelineRunner) and runner.catalogue is catalogue


def test_an_app_built_without_a_catalogue_runs_no_pipeline_and_says_why(container):
    app = create_app(container.settings, container=container, warm_up_on_start=False)

    runner = app.state.ui_jobs.run_pipeline
    assert isinstance(runner, NoPipelines)
    with pytest.raises(PipelineRunFailed, match="built without a pipeline catalogue"):
        runner("digital_data_etl", {}, "run")
