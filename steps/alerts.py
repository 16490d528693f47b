"""Pipeline alerts, as the book wires them: an `on_failure` hook on every pipeline and a final
`notify_on_success` step on the pipelines whose success someone waits for (training, evaluation)."""

from __future__ import annotations

from typing import Annotated, Any

from loguru import logger
from zenml import get_step_context, log_metadata, step


def notify_on_failure(exception: BaseException | None = None) -> None:
    """ZenML `on_failure` hook: post which pipeline, run and step failed, and why, through the alerter."""
    from llm_engineering import bootstrap
    from llm_engineering.application.operations.alerts import Alert

    pipeline, run, step_name, url = _run_context()
    alert = Alert(
        status="failed",
        pipeline=pipeline,
        run=run,
        step=step_name,
        error=f"{type(exception).__name__}: {exception}" if exception is not None else None,
        dashboard_url=url,
    )
    try:
        bootstrap.container().alerter().post(alert)
    except Exception as error:  # noqa: BLE001 - a broken alerter must not replace the pipeline's own error
        logger.warning("Could not post the failure alert: {}", error)


@step(enable_cache=False)
def notify_on_success(summary: dict[str, Any] | None = None) -> Annotated[dict, "alert"]:
    """Post that the pipeline succeeded (with `summary` entries as details); returns the alert record."""
    from llm_engineering import bootstrap
    from llm_engineering.application.operations.alerts import Alert

    pipeline, run, _, url = _run_context()
    details = {key: value for key, value in (summary or {}).items() if isinstance(value, str | int | float | bool)}
    alert = Alert(status="succeeded", pipeline=pipeline, run=run, details=details, dashboard_url=url)
    alerter = bootstrap.container().alerter()
    delivered = alerter.post(alert)
    log_metadata(metadata={"alerter": alerter.name, "delivered": delivered})
    return alert.as_record() | {"alerter": alerter.name, "delivered": delivered}


def _run_context() -> tuple[str, str | None, str | None, str | None]:
    """(pipeline name, run name, step name, dashboard URL) of the current step, as far as they are known."""
    try:
        context = get_step_context()
    except Exception:  # noqa: BLE001 - called outside a step (tests, manual use)
        return "unknown", None, None, None
    run = context.pipeline_run
    url = None
    try:
        from zenml.utils.dashboard_utils import get_run_url

        url = get_run_url(run)
    except Exception:  # noqa: BLE001 - no dashboard (local store without a server)
        url = None
    return context.pipeline.name, run.name, context.step_run.name, url
