"""Builders of the operations adapters: the alerter, and the Opik evaluation log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llm_engineering.settings import Settings, get_settings

if TYPE_CHECKING:
    from llm_engineering.application.operations.alerts import Alerter

# What a test (or an entry point) may hand in instead of the adapter built from settings.


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
