"""Prompt monitoring with Opik `@track`, as optional as the book allows: a no-op (with one log line) unless
Opik is configured through OPIK_API_KEY (Comet-hosted) or OPIK_URL_OVERRIDE (self-hosted server).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from loguru import logger

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_state: dict[str, bool] = {}


def opik_enabled() -> bool:
    """True when Opik is configured and importable; decided once per process, logged once."""
    if "enabled" not in _state:
        from llm_engineering.settings import get_settings

        configured = bool(os.environ.get("OPIK_API_KEY") or get_settings().OPIK_URL_OVERRIDE)
        enabled = False
        if configured:
            try:
                import opik  # noqa: F401

                enabled = True
            except ImportError:
                logger.warning("Opik is configured but the opik package is missing: tracing is off")
        if not configured:
            logger.info("Opik tracing is off (set OPIK_API_KEY or OPIK_URL_OVERRIDE to enable it)")
        _state["enabled"] = enabled
    return _state["enabled"]


def track(name: str, tags: list[str] | None = None) -> Callable[[F], F]:
    """Decorate a function as an Opik span/trace `name` when Opik is enabled; otherwise return it unchanged.

    The decision is taken at the first call, not at import, so importing never reads settings.
    """

    def decorator(function: F) -> F:
        traced: dict[str, Callable[..., Any]] = {}

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not opik_enabled():
                return function(*args, **kwargs)
            if "fn" not in traced:
                import opik

                traced["fn"] = opik.track(name=name, tags=tags)(function)
            return traced["fn"](*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def annotate_trace(metadata: dict[str, Any], tags: list[str] | None = None) -> None:
    """Attach metadata (model ids, token counts, latency) to the current Opik trace; no-op when disabled."""
    if not opik_enabled():
        return
    try:
        from opik import opik_context

        opik_context.update_current_trace(metadata=metadata, tags=tags)
    except Exception as error:  # noqa: BLE001 - monitoring must never break a request
        logger.warning("Could not annotate the Opik trace: {}", error)


def reset_tracing_state() -> None:
    """Forget the enabled/disabled decision (tests)."""
    _state.clear()


class OpikTracer:
    """The application's `Tracer` port over Opik: spans via `track`, metadata on the current trace."""

    def __init__(self, tags: list[str] | None = None):
        self.tags = list(tags or [])
        self._wrapped: dict[tuple[str, Callable[..., Any]], Callable[..., Any]] = {}

    def call(self, name: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        key = (name, function)
        wrapped = self._wrapped.get(key)
        if wrapped is None:
            wrapped = self._wrapped.setdefault(key, track(name=name, tags=self.tags)(function))
        return wrapped(*args, **kwargs)

    def annotate(self, metadata: dict[str, Any]) -> None:
        annotate_trace(metadata, tags=self.tags)
