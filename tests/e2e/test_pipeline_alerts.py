"""Alerts end to end: a failing ZenML pipeline with the project's `on_failure` hook, and a succeeding one
with `notify_on_success`, run on the default local stack (no alerter component): both land in the alerts
file. Every project pipeline carries the hook."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator

import pytest
from zenml import pipeline, step

from pipelines.catalogue import CATALOGUE
from steps.alerts import notify_on_failure, notify_on_success

pytestmark = [pytest.mark.e2e]

# module -> pipeline function, every pipeline of the catalogue (which a unit test holds complete)
PROJECT_PIPELINES = {pipeline.module: pipeline.function for pipeline in CATALOGUE}


@step
def _explode(limit: int) -> int:
    raise ValueError(f"limit {limit} is too small")


@pipeline(on_failure=notify_on_failure, enable_cache=False)
def _failing_pipeline(limit: int = 1) -> None:
    _explode(limit)


@step
def _count() -> dict:
    return {"documents": 3, "ignored": [1, 2]}


@pipeline(on_failure=notify_on_failure, enable_cache=False)
def _succeeding_pipeline() -> None:
    notify_on_success(_count())


@pytest.fixture
def alerts_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    from llm_engineering.settings import get_settings

    path = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("ALERTS_FILE", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def test_failing_pipeline_posts_an_alert(alerts_file):
    with pytest.raises(Exception):  # noqa: B017 - ZenML wraps the step error; the alert must carry it
        _failing_pipeline(limit=1)
    records = [json.loads(line) for line in alerts_file.read_text().splitlines()]
    assert len(records) == 1
    record = records[0]
    assert record["status"] == "failed"
    assert record["pipeline"] == "_failing_pipeline"
    assert record["step"] == "_explode"
    assert record["error"] == "ValueError: limit 1 is too small"
    assert record["run"]


def test_succeeding_pipeline_posts_its_summary(alerts_file):
    run = _succeeding_pipeline()
    records = [json.loads(line) for line in alerts_file.read_text().splitlines()]
    assert [record["status"] for record in records] == ["succeeded"]
    assert records[0]["details"] == {"documents": 3}  # lists are left to the dashboard
    output = run.steps["notify_on_success"].outputs["alert"][0].load()
    assert output["delivered"] is True and output["alerter"].startswith("file:")


@pytest.mark.parametrize(("module", "name"), sorted(PROJECT_PIPELINES.items()))
def test_every_project_pipeline_has_the_failure_hook(module: str, name: str):
    configured = getattr(importlib.import_module(module), name).configuration.failure_hook_source
    assert configured is not None and "notify_on_failure" in str(configured)


@pytest.mark.parametrize(("module", "name"), sorted(PROJECT_PIPELINES.items()))
def test_every_project_pipeline_builds_from_the_project_image_on_remote_stacks(module: str, name: str):
    from zenml.config import DockerSettings

    configured = getattr(importlib.import_module(module), name).configuration.settings["docker"]
    docker = DockerSettings.model_validate(configured.model_dump())
    assert docker.dockerfile == "Dockerfile"
    options = docker.parent_image_build_config.build_options
    assert (options.get("target") if isinstance(options, dict) else options.target) == "pipelines"
