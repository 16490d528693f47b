"""Prompt monitoring with Opik `@track`, as optional as the book allows: a no-op (with one log line) unless
Opik is configured through OPIK_API_KEY (Comet-hosted) or OPIK_URL_OVERRIDE (self-hosted server).

The composition root hands the server URL and project name in (`configure_tracing`, from settings); until it
does, they are read from the environment (OPIK_URL_OVERRIDE, OPIK_PROJECT_NAME).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from loguru import logger

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

DEFAULT_PROJECT_NAME = "twin"

_state: dict[str, bool] = {}
_clients: dict[str, Any] = {}
_config: dict[str, str | None] = {}


def configure_tracing(url_override: str | None, project_name: str) -> None:
    """Where traces go: a self-hosted server's URL (None: Comet-hosted with OPIK_API_KEY, or off) and the
    project. A change takes effect at the next call: the enabled/disabled decision is taken again."""
    config = {"url_override": url_override or None, "project_name": project_name}
    if config != _config:
        _state.clear()
        _clients.clear()
        _config.clear()
        _config.update(config)


def _url_override() -> str | None:
    return _config["url_override"] if _config else os.environ.get("OPIK_URL_OVERRIDE") or None


def opik_enabled() -> bool:
    """True when Opik is configured and importable; decided once per process, logged once."""
    if "enabled" not in _state:
        url_override = _url_override()
        configured = bool(os.environ.get("OPIK_API_KEY") or url_override)
        enabled = False
        if configured:
            # The opik package reads its own environment variables; settings may come from .env instead.
            if url_override:
                os.environ.setdefault("OPIK_URL_OVERRIDE", url_override)
            os.environ.setdefault("OPIK_PROJECT_NAME", project_name())
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

                traced["fn"] = opik.track(name=name, tags=tags, project_name=project_name())(function)
            return traced["fn"](*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def annotate_trace(
    metadata: dict[str, Any],
    tags: list[str] | None = None,
    input: dict[str, Any] | None = None,
    output: dict[str, Any] | None = None,
) -> None:
    """Attach metadata (model ids, token counts, latency) and the request's input/output to the current Opik
    trace; no-op when disabled."""
    if not opik_enabled():
        return
    try:
        from opik import opik_context

        opik_context.update_current_trace(metadata=metadata, tags=tags, input=input, output=output)
    except Exception as error:  # noqa: BLE001 - monitoring must never break a request
        logger.warning("Could not annotate the Opik trace: {}", error)


def project_name() -> str:
    """The Opik project traces go to (OPIK_PROJECT_NAME)."""
    configured = _config.get("project_name")
    return configured or os.environ.get("OPIK_PROJECT_NAME") or DEFAULT_PROJECT_NAME


def opik_client() -> Any:
    """One Opik client per process (it batches and flushes in the background)."""
    if "client" not in _clients:
        import opik

        _clients["client"] = opik.Opik(project_name=project_name())
    return _clients["client"]


def current_trace_id() -> str | None:
    """The id of the Opik trace being recorded in this context, or None."""
    if not opik_enabled():
        return None
    try:
        from opik import opik_context

        data = opik_context.get_current_trace_data()
        return data.id if data is not None else None
    except Exception as error:  # noqa: BLE001 - monitoring must never break a request
        logger.warning("Could not read the current Opik trace: {}", error)
        return None


def log_feedback(trace_id: str, name: str, value: float, reason: str | None = None) -> bool:
    """Attach a feedback score to a trace (Opik batches it); False when Opik is off or refuses it."""
    if not opik_enabled():
        return False
    try:
        opik_client().log_traces_feedback_scores(
            [{"id": trace_id, "name": name, "value": float(value), "reason": reason}], project_name=project_name()
        )
    except Exception as error:  # noqa: BLE001 - reported to the caller as not recorded
        logger.warning("Could not record feedback {} on trace {}: {}", name, trace_id, error)
        return False
    return True


def flush() -> None:
    """Send what the Opik client and the `@track` decorators still hold (end of a job, tests)."""
    if not opik_enabled():
        return
    import opik

    opik.flush_tracker()
    if "client" in _clients:
        _clients["client"].flush()


def reset_tracing_state() -> None:
    """Forget the configuration, the enabled/disabled decision and the clients, ours and the one `opik.track`
    keeps (tests)."""
    _state.clear()
    _clients.clear()
    _config.clear()
    if "opik" in sys.modules:  # never import opik just to reset it
        from opik.api_objects.opik_client import reset_global_client

        reset_global_client()


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

    def annotate(
        self, metadata: dict[str, Any], input: dict[str, Any] | None = None, output: dict[str, Any] | None = None
    ) -> None:
        annotate_trace(metadata, tags=self.tags, input=input, output=output)

    @property
    def enabled(self) -> bool:
        return opik_enabled()

    def trace_id(self) -> str | None:
        return current_trace_id()

    def record_feedback(self, trace_id: str, name: str, value: float, reason: str | None = None) -> bool:
        return log_feedback(trace_id, name, value, reason)
