"""The local ZenML dashboard: where its pages are, and the first-visit set-up `local-infrastructure-up` does
through the server's REST API so that a user lands on the runs list.

A local server (`zenml login --local`) has no login: it runs with `NO_AUTH`, and every request acts as the
user `default`. On a first visit the dashboard redirects every page to a survey ("Add your account
details", then two questions) until the user's record says it was answered; `complete_first_visit_survey`
writes what the survey writes when answered without an email or newsletter. The dashboard's browser code
sends page views to ZenML's analytics whenever the server settings say `enable_analytics`, which a store
created with analytics on keeps; `disable_analytics` turns that setting off.
"""

from __future__ import annotations

import http.client
import json
import urllib.request
from dataclasses import dataclass, field
from typing import Any

# What `zenml login --local` uses when no --port is given.
DEFAULT_ZENML_PORT = 8237
# The default project's pages (ZenML 0.98); `/pipelines` of older dashboards is a 404 there.
RUNS_PATH = "/projects/default/runs"
FINISHED_SURVEY_KEY = "finished_onboarding_survey"


@dataclass(frozen=True)
class ZenMLDashboard:
    """A local ZenML server's dashboard on `host`:`port`."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_ZENML_PORT

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.url}/health"

    @property
    def runs_url(self) -> str:
        """The pipeline runs list of the default project; a run there opens its DAG."""
        return f"{self.url}{RUNS_PATH}"


@dataclass
class DashboardSetup:
    """What `prepare_dashboard` found and did; `problems` holds one line per step that failed."""

    survey_completed_now: bool = False
    analytics_disabled_now: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def survey_pending(user: dict[str, Any]) -> bool:
    """True when the dashboard would send this user (a `/api/v1/current-user` answer) to the survey: it does so
    while `email_opted_in` is unset or the metadata records neither a finished survey nor its answers."""
    if (user.get("body") or {}).get("email_opted_in") is None:
        return True
    metadata = (user.get("metadata") or {}).get("user_metadata") or {}
    return not (metadata.get(FINISHED_SURVEY_KEY) or metadata.get("awareness_channels"))


def complete_first_visit_survey(base_url: str, timeout_s: float = 10.0) -> bool:
    """Mark the survey answered for the current (local) user: no email, no newsletter, the user's other
    metadata kept. True when it changed something, False when it was already answered.

    Raises OSError (HTTP and connection errors) or ValueError (an answer that is not JSON).
    """
    user = _call("GET", f"{base_url}/api/v1/current-user", timeout_s=timeout_s)
    if not survey_pending(user):
        return False
    metadata = dict((user.get("metadata") or {}).get("user_metadata") or {})
    update: dict[str, Any] = {"user_metadata": {**metadata, FINISHED_SURVEY_KEY: True}}
    if (user.get("body") or {}).get("email_opted_in") is None:
        update["email_opted_in"] = False
    _call("PUT", f"{base_url}/api/v1/current-user", update, timeout_s=timeout_s)
    return True


def disable_analytics(base_url: str, timeout_s: float = 10.0) -> bool:
    """Turn the server setting `enable_analytics` off. True when it was on, False when it already was off.

    Raises OSError or ValueError like `complete_first_visit_survey`.
    """
    settings = _call("GET", f"{base_url}/api/v1/settings", timeout_s=timeout_s)
    if not (settings.get("body") or {}).get("enable_analytics"):
        return False
    _call("PUT", f"{base_url}/api/v1/settings", {"enable_analytics": False}, timeout_s=timeout_s)
    return True


def prepare_dashboard(dashboard: ZenMLDashboard, timeout_s: float = 10.0) -> DashboardSetup:
    """Complete the first-visit survey and turn analytics off on a running local server; never raises."""
    setup = DashboardSetup()
    try:
        setup.survey_completed_now = complete_first_visit_survey(dashboard.url, timeout_s)
    except (OSError, ValueError, http.client.HTTPException) as error:
        setup.problems.append(f"could not skip the first-visit survey ({error})")
    try:
        setup.analytics_disabled_now = disable_analytics(dashboard.url, timeout_s)
    except (OSError, ValueError, http.client.HTTPException) as error:
        setup.problems.append(f"could not turn the server's analytics setting off ({error})")
    return setup


def _call(method: str, url: str, body: dict[str, Any] | None = None, timeout_s: float = 10.0) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    # Loopback only: an HTTP proxy from the environment cannot reach this machine's ports.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout_s) as response:
        answer = json.loads(response.read().decode())
    if not isinstance(answer, dict):
        raise ValueError(f"{method} {url} answered {type(answer).__name__}, not a JSON object")  # noqa: TRY004
    return answer
