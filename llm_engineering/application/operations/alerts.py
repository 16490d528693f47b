"""Alerts about pipeline runs: what a message says, independent of where it is posted (Slack, Discord, a
file). The `Alerter` port is implemented in infrastructure; hooks and steps build messages here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

AlertStatus = Literal["succeeded", "failed"]
# Long tracebacks make unreadable chat messages; the dashboard has the full log.
MAX_ERROR_CHARS = 600


@dataclass(frozen=True)
class Alert:
    """One pipeline-run event worth telling a person about."""

    status: AlertStatus
    pipeline: str
    run: str | None = None
    step: str | None = None
    error: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    dashboard_url: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def message(self) -> str:
        """A short, plain-text message that reads well in Slack, Discord, a log line or a file."""
        icon = "OK" if self.status == "succeeded" else "FAILED"
        head = f"[LLM Twin] {icon}: pipeline `{self.pipeline}` {self.status}"
        lines = [head + (f" (run `{self.run}`)" if self.run else "")]
        if self.step:
            lines.append(f"step: {self.step}")
        if self.error:
            error = " ".join(self.error.split())
            lines.append(f"error: {error[:MAX_ERROR_CHARS]}{'...' if len(error) > MAX_ERROR_CHARS else ''}")
        for key, value in self.details.items():
            lines.append(f"{key}: {value}")
        if self.dashboard_url:
            lines.append(f"dashboard: {self.dashboard_url}")
        return "\n".join(lines)

    def as_record(self) -> dict[str, Any]:
        return {
            "created_at": self.created_at,
            "status": self.status,
            "pipeline": self.pipeline,
            "run": self.run,
            "step": self.step,
            "error": self.error,
            "details": dict(self.details),
            "dashboard_url": self.dashboard_url,
            "message": self.message(),
        }


@runtime_checkable
class Alerter(Protocol):
    """Where alerts go. `post` returns whether the alert was delivered; it must not raise on delivery
    problems (an alert about a failure must never hide the failure)."""

    @property
    def name(self) -> str: ...

    def post(self, alert: Alert) -> bool: ...
