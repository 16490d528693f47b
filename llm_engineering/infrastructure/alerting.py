"""Alerters: the active ZenML stack's alerter component (Slack, Discord, ... flavours) when the stack has
one, otherwise a file alerter that appends JSON lines (and logs the message), so alerts are testable and
visible on a laptop without any chat service."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.application.operations.alerts import Alert

_file_lock = threading.Lock()


class FileAlerter:
    """Appends each alert as one JSON line to `path` and logs its message."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def name(self) -> str:
        return f"file:{self.path}"

    def post(self, alert: Alert) -> bool:
        log = logger.error if alert.status == "failed" else logger.info
        log("Alert: {}", alert.message())
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _file_lock, self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(alert.as_record(), ensure_ascii=False) + "\n")
        except OSError as error:
            logger.warning("Could not write the alert to {}: {}", self.path, error)
            return False
        return True


class StackAlerter:
    """A ZenML alerter stack component (`zenml alerter register ... --flavor slack|discord`)."""

    def __init__(self, component: Any, fallback: FileAlerter | None = None):
        self.component = component
        self.fallback = fallback

    @property
    def name(self) -> str:
        return f"zenml:{getattr(self.component, 'name', type(self.component).__name__)}"

    def post(self, alert: Alert) -> bool:
        try:
            delivered = bool(self.component.post(alert.message()))
        except Exception as error:  # noqa: BLE001 - the alert must not mask the pipeline's own outcome
            logger.warning("The stack alerter {} failed: {}", self.name, error)
            delivered = False
        if not delivered and self.fallback is not None:
            return self.fallback.post(alert)
        return delivered


def active_stack_alerter_component() -> Any | None:
    """The active ZenML stack's alerter component, or None (no alerter, or ZenML not reachable)."""
    try:
        from zenml.client import Client

        return Client().active_stack.alerter
    except Exception as error:  # noqa: BLE001 - no stack means the file alerter, not a crash
        logger.debug("No ZenML stack alerter: {}", error)
        return None
