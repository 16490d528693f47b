"""The port of a pipeline run: what runs a catalogued pipeline (`PipelineRunner`) and how the run ended
(`RunResult`). The web UI's jobs call it; `bootstrap.pipeline_runs` implements it on ZenML, tests on fakes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class RunResult:
    """How a pipeline run ended: ZenML's status (`completed`), its dashboard page, and a summary (e.g. the
    crawl's tried/succeeded/failed counts) when the runner knows one."""

    status: str
    dashboard_url: str | None = None
    summary: dict[str, Any] | None = None


class PipelineRunner(Protocol):
    """Runs pipeline `pipeline` with `parameters` as run `run_name`, returning when it ended.

    Raises on a failed run (`PipelineRunFailed` when it knows the run's dashboard page).
    """

    def __call__(self, pipeline: str, parameters: Mapping[str, Any], run_name: str) -> RunResult: ...
