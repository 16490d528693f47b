"""The first-visit set-up of the local ZenML dashboard against a stand-in of the server's REST API (a thread on
127.0.0.1 answering `/api/v1/current-user` and `/api/v1/settings` the way ZenML 0.98 does)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llm_engineering.infrastructure.local.zenml_dashboard import (
    ZenMLDashboard,
    complete_first_visit_survey,
    disable_analytics,
    prepare_dashboard,
    survey_pending,
)

FRESH_USER = {"body": {"email_opted_in": None}, "metadata": {"user_metadata": {}}}


class FakeZenML:
    """What the stand-in serves, and the PUT bodies it received per path."""

    def __init__(self) -> None:
        self.user: dict = json.loads(json.dumps(FRESH_USER))
        self.settings: dict = {"body": {"enable_analytics": True}}
        self.puts: list[tuple[str, dict]] = []
        self.fail_with: int | None = None


@pytest.fixture
def zenml_api() -> Iterator[tuple[ZenMLDashboard, FakeZenML]]:
    fake = FakeZenML()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, payload: dict) -> None:
            if fake.fail_with:
                self.send_error(fake.fail_with)
                return
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer(fake.user if self.path == "/api/v1/current-user" else fake.settings)

        def do_PUT(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.puts.append((self.path, body))
            if self.path == "/api/v1/current-user":
                if "email_opted_in" in body:
                    fake.user["body"]["email_opted_in"] = body["email_opted_in"]
                fake.user["metadata"]["user_metadata"] = body["user_metadata"]  # ZenML replaces it whole
                self._answer(fake.user)
            else:
                fake.settings["body"].update(body)
                self._answer(fake.settings)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ZenMLDashboard(port=server.server_address[1]), fake
    finally:
        server.shutdown()
        server.server_close()


def test_dashboard_urls():
    dashboard = ZenMLDashboard()
    assert dashboard.url == "http://127.0.0.1:8237"
    assert dashboard.runs_url == "http://127.0.0.1:8237/projects/default/runs"
    assert dashboard.health_url == "http://127.0.0.1:8237/health"


@pytest.mark.parametrize(
    ("body", "user_metadata", "pending"),
    [
        ({"email_opted_in": None}, {}, True),  # a fresh local user
        ({"email_opted_in": None}, {"finished_onboarding_survey": True}, True),  # the dashboard checks both
        ({"email_opted_in": False}, {}, True),
        ({"email_opted_in": False}, {"finished_onboarding_survey": True}, False),
        ({"email_opted_in": True}, {"awareness_channels": ["Search"]}, False),  # answered by an older dashboard
    ],
)
def test_survey_pending_mirrors_the_dashboards_redirect(body, user_metadata, pending):
    assert survey_pending({"body": body, "metadata": {"user_metadata": user_metadata}}) is pending


def test_survey_is_completed_once_keeping_other_metadata(zenml_api):
    dashboard, fake = zenml_api
    fake.user["metadata"]["user_metadata"] = {"primary_role": "ml engineer"}

    assert complete_first_visit_survey(dashboard.url) is True
    assert complete_first_visit_survey(dashboard.url) is False  # already answered: no second PUT

    assert fake.puts == [
        (
            "/api/v1/current-user",
            {
                "user_metadata": {"primary_role": "ml engineer", "finished_onboarding_survey": True},
                "email_opted_in": False,
            },
        )
    ]


def test_an_email_opt_in_is_left_as_the_user_set_it(zenml_api):
    dashboard, fake = zenml_api
    fake.user["body"]["email_opted_in"] = True

    complete_first_visit_survey(dashboard.url)

    (_, update) = fake.puts[0]
    assert "email_opted_in" not in update and fake.user["body"]["email_opted_in"] is True


def test_analytics_setting_is_turned_off_once(zenml_api):
    dashboard, fake = zenml_api

    assert disable_analytics(dashboard.url) is True
    assert disable_analytics(dashboard.url) is False

    assert fake.puts == [("/api/v1/settings", {"enable_analytics": False})]


def test_prepare_dashboard_reports_failures_instead_of_raising(zenml_api):
    dashboard, fake = zenml_api
    fake.fail_with = 500

    setup = prepare_dashboard(dashboard)

    assert not setup.ok and len(setup.problems) == 2
    assert setup.problems[0].startswith("could not skip the first-visit survey (HTTP Error 500")
    assert setup.problems[1].startswith("could not turn the server's analytics setting off")


def test_prepare_dashboard_on_a_closed_port():
    from llm_engineering.infrastructure.local.processes import free_port

    setup = prepare_dashboard(ZenMLDashboard(port=free_port()), timeout_s=2.0)

    assert not setup.ok and not setup.survey_completed_now and not setup.analytics_disabled_now
