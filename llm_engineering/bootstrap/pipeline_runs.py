"""The web UI's `PipelineRunner` on ZenML, built in the composition root (`build_pipeline_runner`, called by
`ui.api.install`; the UI keeps only the port, `application.operations.pipeline_runs`): a pipeline of the
catalogue it is given (the project's, from `pipelines/catalogue.py`, handed to the app factory by
`tools/ml_service.py`) run in this process, with the catalogued YAML config and the job's parameters written
into a copy of it (as `tools.run` does), caching off.

The steps take their repositories (`documents()`, `vector_index()`) from `bootstrap.container()`; before a run
the process's container is made to share the service's warehouse and vector store, so an embedded Qdrant
folder is never opened twice.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_engineering.application.errors import PipelineRunFailed
from llm_engineering.application.operations.pipeline_runs import RunResult
from llm_engineering.bootstrap.builders.operations import owned_run, run_owner_records
from llm_engineering.infrastructure.local.zenml_dashboard import ZenMLDashboard
from llm_engineering.infrastructure.local.zenml_server import checkout_dashboard
from llm_engineering.infrastructure.zenml_run_config import config_with_parameters

if TYPE_CHECKING:
    from llm_engineering.application.operations.pipeline_catalogue import PipelineCatalogue, SummaryField
    from llm_engineering.bootstrap import Container

REMOTE_POLL_S = 5.0


def build_pipeline_runner(container: Callable[[], Container], catalogue: PipelineCatalogue) -> ZenMLPipelineRunner:
    """The runner of the web UI's jobs: the ZenML pipelines of `catalogue` on the stores of `container()`."""
    return ZenMLPipelineRunner(container, catalogue)


class ZenMLPipelineRunner:
    """`PipelineRunner` running the ZenML pipelines of `catalogue` (each with the config file catalogued for
    it, its `parameters:` set to the job's); `container` gives the service's stores."""

    def __init__(self, container: Callable[[], Container], catalogue: PipelineCatalogue):
        self.container = container
        self.catalogue = catalogue

    def __call__(self, pipeline: str, parameters: Mapping[str, Any], run_name: str) -> RunResult:
        catalogued = self.catalogue[pipeline]
        container = self.container()
        share_stores_with_steps(container)
        dashboard = checkout_dashboard(container.settings.LOCAL_DATA_DIR / "run")
        with tempfile.TemporaryDirectory(prefix="llm-twin-ui-") as folder:
            config_path = config_with_parameters(self.catalogue.config_path(pipeline), parameters, Path(folder))
            pipeline_function = catalogued.load()
            try:
                with owned_run(run_name, run_owner_records(container.settings)):
                    run = pipeline_function.with_options(
                        config_path=str(config_path), run_name=run_name, enable_cache=False
                    )()
            except Exception as error:
                reason = " ".join(f"{type(error).__name__}: {error}".split())
                raise PipelineRunFailed(
                    pipeline, run_name, reason, dashboard_url(find_run(run_name), dashboard)
                ) from error
        run = wait_until_finished(run or find_run(run_name), pipeline, run_name)
        return RunResult(
            status=_status(run),
            dashboard_url=dashboard_url(run, dashboard),
            summary=run_summary(run, catalogued.summary),
        )


def share_stores_with_steps(container: Container) -> None:
    """Make the process's current container (the one steps use) share `container`'s warehouse and vector
    store, unless it already does: the steps' repositories are then built over the service's adapters."""
    from llm_engineering import bootstrap

    current = bootstrap.container()
    if current is container:
        return
    warehouse, vector_store = container.warehouse(), container.vector_store()
    if current.warehouse() is warehouse and current.vector_store() is vector_store:
        return
    bootstrap.configure(container.settings, warehouse=warehouse, vector_store=vector_store)


def find_run(run_name: str) -> Any | None:
    """The ZenML run named `run_name`, or None when there is none (yet)."""
    try:
        from zenml.client import Client

        return Client().get_pipeline_run(run_name, allow_name_prefix_match=False)
    except Exception:  # noqa: BLE001 - the run may not have been created before the failure
        return None


def wait_until_finished(run: Any, pipeline: str, run_name: str) -> Any:
    """The run once finished: at once for the local orchestrator, polled for a remote one."""
    if run is None:
        raise PipelineRunFailed(pipeline, run_name, "ZenML returned no run and none has this name")
    from zenml.client import Client

    while not run.status.is_finished:
        time.sleep(REMOTE_POLL_S)
        run = Client().get_pipeline_run(run.id)
    return run


def dashboard_url(run: Any | None, dashboard: ZenMLDashboard | None = None) -> str | None:
    """The run's page: ZenML's own URL when a server is connected, else the page on `dashboard` (this checkout's
    local one, `local-infrastructure-up`; default port 8237), else None."""
    if run is None:
        return None
    try:
        from zenml.utils.dashboard_utils import get_run_url

        url = get_run_url(run)
        if url:
            return url
        from zenml.client import Client
        from zenml.enums import StoreType

        if Client().zen_store.type == StoreType.SQL:
            return f"{(dashboard or ZenMLDashboard()).runs_url}/{run.id}"
    except Exception as error:  # noqa: BLE001 - a link is a convenience; the job must not fail for it
        logger.debug("No dashboard URL for run {}: {}", getattr(run, "name", run), error)
    return None


def run_summary(run: Any, wanted: tuple[SummaryField, ...]) -> dict[str, Any] | None:
    """Figures from the run's artifact metadata (e.g. the crawl's tried/succeeded/failed), None if none."""
    summary: dict[str, Any] = {}
    for step, artifact, keys in wanted:
        try:
            metadata = dict(run.steps[step].outputs[artifact][0].run_metadata)
        except Exception as error:  # noqa: BLE001 - a step that did not run or logged nothing
            logger.debug("No metadata of {}.{} in run {}: {}", step, artifact, getattr(run, "name", run), error)
            continue
        for key in keys:
            value = metadata.get(key)
            if isinstance(value, dict):
                summary.update(value)
            elif value is not None:
                summary[key] = value
    return summary or None


def _status(run: Any) -> str:
    return str(getattr(run.status, "value", run.status))
