"""Builders of the operations adapters: the alerter, prompt tracing (Opik) and the Opik evaluation log."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from llm_engineering.settings import Settings, get_settings, load_settings

if TYPE_CHECKING:
    from llm_engineering.application.operations.alerts import Alerter
    from llm_engineering.infrastructure.opik_tracing import OpikTracer
    from llm_engineering.infrastructure.zenml_home import ZenMLHome
    from llm_engineering.infrastructure.zenml_orphaned_runs import OrphanReport, RunOwnerRecords


def build_alerter(settings: Settings | None = None) -> Alerter:
    """The active ZenML stack's alerter (falling back to the alerts file when it fails), else the file."""
    from llm_engineering.infrastructure.alerting import FileAlerter, StackAlerter, active_stack_alerter_component

    settings = settings or get_settings()
    file_alerter = FileAlerter(settings.alerts_file)
    component = active_stack_alerter_component()
    return StackAlerter(component, fallback=file_alerter) if component is not None else file_alerter


def log_model_evaluation_to_opik(
    run_name: str,
    samples: Sequence[Mapping[str, Any]],
    answers: Mapping[str, Sequence[str | None]],
    scores: Mapping[str, Mapping[str, Sequence[float | None]]],
) -> dict[str, str]:
    """Log an evaluation run to Opik when it is configured (see `infrastructure.opik_evaluation`)."""
    from llm_engineering.infrastructure.opik_evaluation import log_model_evaluation

    return log_model_evaluation(run_name, samples, answers, scores)


def configure_tracing(settings: Settings) -> None:
    """Point prompt tracing at OPIK_URL_OVERRIDE and OPIK_PROJECT_NAME (it stays off without them or
    OPIK_API_KEY). Imports no Opik."""
    from llm_engineering.infrastructure.opik_tracing import configure_tracing as configure

    configure(settings.OPIK_URL_OVERRIDE, settings.OPIK_PROJECT_NAME)


def build_tracer(settings: Settings, tags: list[str] | None = None) -> OpikTracer:
    """The application's `Tracer` over Opik, configured from settings (a no-op while Opik is off)."""
    from llm_engineering.infrastructure.opik_tracing import OpikTracer

    configure_tracing(settings)
    return OpikTracer(tags=tags)


def use_project_zenml_store(
    settings: Settings | None = None, environ: MutableMapping[str, str] | None = None
) -> ZenMLHome | None:
    """Point ZenML at this checkout's store, LOCAL_DATA_DIR/zenml, unless the user chose another (see
    `infrastructure.zenml_home.use_project_zenml_store`); before ZenML reads its config. `settings` default to
    the process settings; None (nothing set) when those do not load: the entry point reports them itself."""
    from llm_engineering.domain.exceptions import ImproperlyConfigured
    from llm_engineering.infrastructure.zenml_home import use_project_zenml_store as use_store

    if settings is None:
        try:
            settings = get_settings()
        except ImproperlyConfigured:
            return None
    return use_store(settings.LOCAL_DATA_DIR, environ)


def run_owner_records(settings: Settings | None = None) -> RunOwnerRecords:
    """The pipeline runs' owner records under LOCAL_DATA_DIR/zenml_runs (default: the process settings)."""
    from llm_engineering.infrastructure.zenml_orphaned_runs import RunOwnerRecords

    return RunOwnerRecords.under((settings or get_settings()).LOCAL_DATA_DIR)


@contextmanager
def owned_run(run_name: str, records: RunOwnerRecords | None = None) -> Iterator[OrphanReport | None]:
    """`infrastructure.zenml_orphaned_runs.owned_run` on `records` (default: `run_owner_records()`): around
    the call of a pipeline run, orphaned runs marked failed first, then this process recorded as its owner."""
    from llm_engineering.infrastructure.zenml_orphaned_runs import owned_run as owned

    with owned(run_name, records or run_owner_records()) as report:
        yield report


def mark_orphaned_runs(records: RunOwnerRecords | None = None, client: Any | None = None) -> OrphanReport:
    """`infrastructure.zenml_orphaned_runs.mark_orphaned_runs` on `records` (default: `run_owner_records()`)."""
    from llm_engineering.infrastructure.zenml_orphaned_runs import mark_orphaned_runs as mark

    return mark(records or run_owner_records(), client)


def export_settings_to_zenml(settings: Settings | None = None) -> str:
    """Create or replace the ZenML secret `settings` with every non-empty setting (default: the process
    settings) as a string; says what was done."""
    from llm_engineering.infrastructure.zenml_secrets import SECRET_NAME, put_secret

    settings = settings or get_settings()
    values = {
        name: (value.get_secret_value() if hasattr(value, "get_secret_value") else str(value))
        for name, value in settings.model_dump().items()
        if value is not None
    }
    action = put_secret(values, SECRET_NAME)
    return f"ZenML secret {SECRET_NAME!r} {action} with {len(values)} settings."


def load_settings_from_zenml() -> Settings:
    """Settings from the ZenML secret `settings`, falling back to the environment / .env."""
    from llm_engineering.infrastructure.zenml_secrets import read_secret

    values = read_secret()
    return get_settings() if values is None else load_settings(**values)
