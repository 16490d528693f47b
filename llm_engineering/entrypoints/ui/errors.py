"""Errors of the UI's job runner (answered as HTTP statuses by `ui.api`).

`PipelineRunFailed` is the application's (raised by the runner `bootstrap` builds), named here too.
"""

from __future__ import annotations

from llm_engineering.application.errors import PipelineRunFailed
from llm_engineering.domain.exceptions import LLMTwinError

__all__ = ["JobAlreadyRunning", "PipelineRunFailed"]


class JobAlreadyRunning(LLMTwinError):
    """A job of the same kind is queued or running; answered as 409."""

    def __init__(self, kind: str, job_id: str):
        super().__init__(f"a {kind} is already running (job {job_id})")
        self.kind = kind
        self.job_id = job_id
