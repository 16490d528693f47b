"""Nothing leaves the machine uninvited: every vendor library's own telemetry is off unless the user opts in.

Several libraries in the lock report usage or crashes to their vendor by default (ZenML analytics, Opik's
product analytics and Sentry reports, Comet ML's Sentry reports, Hugging Face's usage pings from the hub
client, transformers, datasets and TRL, litellm's price list download, Selenium Manager's statistics, vLLM's
usage stats). Traffic the user configured (an Opik or Comet key, a Qdrant server, a hub model id) is not
telemetry and is untouched.

Entry processes call `opt_out_of_vendor_telemetry()` first: every tool's `main`, the API app factory, and
`bootstrap.configure` (so ZenML steps and anything else that wires the project). It sets each vendor's own
opt-out variable, as a default: a variable the user set (to anything) wins. Setting
LLM_TWIN_ALLOW_VENDOR_TELEMETRY=true (environment or .env) leaves every vendor on its own defaults; the choice
is then exported to the environment, so the processes this one starts make the same one.

Most libraries read their variable when they report; huggingface_hub reads it once, at import, so call this
before it is imported (the entry points do) - it is also corrected here if it was imported already.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llm_engineering.settings import Settings

OPT_IN_VARIABLE = "LLM_TWIN_ALLOW_VENDOR_TELEMETRY"

# Each vendor's own switch, and the value that turns its reporting off.
VENDOR_OPT_OUTS: Mapping[str, str] = MappingProxyType(
    {
        # ZenML: usage analytics from the client, and from the local dashboard server it starts.
        "ZENML_ANALYTICS_OPT_IN": "false",
        # Opik: product analytics (stats.comet.com) and crash reports (Sentry).
        "OPIK_ANALYTICS_ENABLE": "false",
        "OPIK_SENTRY_ENABLE": "false",
        # Comet ML: crash reports to Sentry, set up when comet_ml is imported (transformers' trainers do).
        "COMET_ERROR_TRACKING_ENABLE": "false",
        # huggingface_hub, and transformers, datasets and TRL through it: usage pings to the hub.
        "HF_HUB_DISABLE_TELEMETRY": "1",
        # litellm (imported by Opik's evaluation metrics): no model price list fetched from GitHub at import.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        # Selenium Manager (when Selenium looks for a driver itself): no usage statistics.
        "SE_AVOID_STATS": "true",
        # vLLM (`poe local-vllm-up` on a GPU machine): no usage stats.
        "VLLM_NO_USAGE_STATS": "1",
    }
)

_TRUE = frozenset({"1", "true", "yes", "on"})


def vendor_telemetry_allowed(settings: Settings | None = None) -> bool:
    """Whether the user opted in (LLM_TWIN_ALLOW_VENDOR_TELEMETRY in `settings`, else the environment and
    .env). Settings that do not load count as no opt-in: the entry point reports them itself."""
    if settings is None:
        from llm_engineering.domain.exceptions import ImproperlyConfigured
        from llm_engineering.settings import load_settings

        try:
            settings = load_settings()
        except ImproperlyConfigured:
            return os.environ.get(OPT_IN_VARIABLE, "").strip().lower() in _TRUE
    return bool(getattr(settings, OPT_IN_VARIABLE, False))


def opt_out_of_vendor_telemetry(
    settings: Settings | None = None, environ: MutableMapping[str, str] | None = None
) -> dict[str, str]:
    """Set every vendor's telemetry opt-out in `environ` (default: this process's environment, inherited by
    the processes it starts) unless the user opted in; variables already set are kept. Returns what was set."""
    environ = os.environ if environ is None else environ
    if vendor_telemetry_allowed(settings):
        environ.setdefault(OPT_IN_VARIABLE, "true")  # an opt-in read from .env reaches child processes too
        return {}
    applied = {name: value for name, value in VENDOR_OPT_OUTS.items() if name not in environ}
    environ.update(applied)
    if environ is os.environ:
        _correct_imported_hub_constants()
    return applied


def _correct_imported_hub_constants() -> None:
    # huggingface_hub turns its variable into a module constant at import; follow the environment now.
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and os.environ.get("HF_HUB_DISABLE_TELEMETRY", "").strip().lower() in _TRUE:
        constants.HF_HUB_DISABLE_TELEMETRY = True
