"""Errors of the UI's job runner (answered as HTTP statuses by `ui.api`)."""

from __future__ import annotations

from llm_engineering.domain.exceptions import LLMTwinError


class JobAlreadyRunning(LLMTwinError):
    """A job of the same kind is queued or running; answered as 409."""

    def __init__(self, kind: str, job_id: str):
        super().__init__(f"a {kind} is already running (job {job_id})")
        self.kind = kind
        self.job_id = job_id


class PipelineRunFailed(LLMTwinError):
    """A pipeline run raised or ended in a state other than completed; carries what is known of the run."""

    def __init__(self, pipeline: str, run_name: str, reason: str, dashboard_url: str | None = None):
        super().__init__(f"{pipeline} run {run_name} failed: {reason}")
        self.pipeline = pipeline
        self.run_name = run_name
        self.reason = reason
        self.dashboard_url = dashboard_url
