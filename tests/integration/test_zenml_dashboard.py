"""The local ZenML dashboard for real: `LocalInfrastructure.start_zenml` on a free port with its own
ZENML_CONFIG_PATH, a one-step pipeline run against it, and its runs page in headless Chromium.

The screenshot goes to a temporary folder; with UPDATE_DOCS_SCREENSHOTS=1 it replaces the docs'
docs/images/zenml-dashboard-runs.png. Run as a script (`python -m tests.integration.test_zenml_dashboard`),
this module runs the pipeline against the server its environment points at.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from llm_engineering.bootstrap import build_local_infrastructure
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.local.processes import port_open, read_pid_file, stop_pid, wait_gone
from llm_engineering.settings import load_settings
from tests.conftest import PROJECT_ROOT, free_port
from tests.waiting import CEILING_S

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PIPELINE_NAME = "dashboard_demo"
DOCS_SCREENSHOT = PROJECT_ROOT / "docs" / "images" / "zenml-dashboard-runs.png"


def _get_json(url: str) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=CEILING_S) as response:
        return json.loads(response.read())


def _run_pipeline_against(zenml_config: Path) -> None:
    """Run this module as a script: the one-step pipeline below, stored by the server the config points at."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.integration.test_zenml_dashboard"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "ZENML_CONFIG_PATH": str(zenml_config), "ZENML_ANALYTICS_OPT_IN": "false"},
        capture_output=True,
        text=True,
        timeout=CEILING_S,  # importing ZenML and running one step: far less, unless the machine is busy
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def _screenshot_path(tmp_path: Path) -> Path:
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        return DOCS_SCREENSHOT
    return tmp_path / "zenml-dashboard-runs.png"


def test_runs_page_shows_a_pipeline_run_without_login_or_survey(tmp_path, monkeypatch):
    from llm_engineering.infrastructure.browser import start_chromium
    from llm_engineering.infrastructure.egress import default_policy

    zenml_config = tmp_path / "zenml"
    monkeypatch.setenv("ZENML_CONFIG_PATH", str(zenml_config))  # the server's store and pid stay in tmp_path
    settings = load_settings(env_file=tmp_path / "none.env", LOCAL_DATA_DIR=tmp_path / "local")
    infrastructure = build_local_infrastructure(settings, project_root=PROJECT_ROOT, zenml_port=free_port())
    dashboard = infrastructure.dashboard
    daemon_pid_file = zenml_config / "zen_server" / "daemon" / "service.pid"
    progress: list[str] = []
    daemon_pid = None
    try:
        guide = infrastructure.start_zenml(progress=progress.append)
        daemon_pid = read_pid_file(daemon_pid_file)

        assert progress[0].startswith(f"zenml: starting the local ZenML server on 127.0.0.1:{dashboard.port}"), guide
        assert progress[-1].startswith("zenml: ready in "), (progress, guide)
        assert f"pipeline runs at {dashboard.runs_url}" in guide
        assert "no login locally" in guide and "survey is marked answered" in guide
        assert _get_json(f"{dashboard.url}/api/v1/info")["analytics_enabled"] is False
        user = _get_json(f"{dashboard.url}/api/v1/current-user")
        assert user["metadata"]["user_metadata"]["finished_onboarding_survey"] is True

        _run_pipeline_against(zenml_config)

        try:
            browser = start_chromium(
                settings.CHROMIUM_PATH,
                settings.CHROMEDRIVER_PATH,
                page_timeout_s=CEILING_S,
                extra_arguments=("--window-size=1280,760",),
                # Through the egress proxy: the browser's own calls home are refused, nothing leaves 127.0.0.1.
                egress=default_policy(allow_private=True),
            )
        except CrawlError as error:
            pytest.skip(f"headless Chromium unavailable: {error}")
        try:
            browser.open(dashboard.runs_url)
            shown = browser.wait_until(lambda page: PIPELINE_NAME in " ".join(page.texts("body")), timeout_s=CEILING_S)
            assert shown, f"{PIPELINE_NAME} not on {browser.current_url}: {browser.texts('body')[:1]}"
            assert browser.current_url.startswith(dashboard.runs_url)  # no survey, no login page
            time.sleep(1.0)  # let the status icons and fonts settle before the picture
            picture = browser.screenshot(_screenshot_path(tmp_path))
        finally:
            browser.close()
        assert picture.read_bytes().startswith(b"\x89PNG")
    finally:
        stopped = infrastructure.stop_zenml()
        leftover = daemon_pid is not None and not wait_gone(daemon_pid, timeout_s=CEILING_S)
        if leftover:
            stop_pid(daemon_pid, timeout_s=10)
    assert stopped == "zenml: dashboard stopped"
    assert not leftover, f"the ZenML daemon {daemon_pid} survived `zenml logout --local`"
    assert not port_open("127.0.0.1", dashboard.port)


if __name__ == "__main__":
    # The pipeline of the test, run in a child process pointed at the test's server (see `_run_pipeline_against`):
    # defined only here, so collecting the tests does not import ZenML.
    from zenml import pipeline, step

    @step
    def say_hello() -> str:
        return "hello from the LLM Twin dashboard test"

    @pipeline(name=PIPELINE_NAME, enable_cache=False)
    def dashboard_demo() -> None:
        say_hello()

    dashboard_demo()
