"""`LocalInfrastructure` wording: one status line per service (UP/DOWN and who started it), the progress
`start_zenml` prints while `zenml login --local` runs, and `down` twice. Probes are monkeypatched and the
`zenml` command is a small shell script, so nothing real starts here (the dashboard test starts a real one).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from llm_engineering.bootstrap import build_local_infrastructure
from llm_engineering.infrastructure.local import local_infrastructure
from llm_engineering.infrastructure.local.local_infrastructure import LocalInfrastructure, describe_service
from llm_engineering.infrastructure.local.zenml_dashboard import DashboardSetup
from llm_engineering.settings import load_settings

UP = "local-infrastructure-up"


@pytest.fixture
def infrastructure(tmp_path) -> LocalInfrastructure:
    settings = load_settings(
        env_file=tmp_path / "none.env",
        LOCAL_DATA_DIR=tmp_path / "local",
        DATABASE_HOST="mongodb://127.0.0.1:27999",
        LLM_BASE_URL="http://127.0.0.1:8001/v1",
        LOCAL_LLM_PORT=8001,
        LOCAL_LLM_ENGINE="transformers",
    )
    return build_local_infrastructure(settings, project_root=tmp_path, zenml_port=8299)


def _answering(monkeypatch, ports: set[int] = frozenset(), urls: tuple[str, ...] = ()) -> None:
    """Make `port_open` answer for `ports` and `http_ok` for URLs starting with one of `urls`."""
    monkeypatch.setattr(local_infrastructure, "port_open", lambda host, port, timeout_s=0.5: port in ports)
    monkeypatch.setattr(
        local_infrastructure, "http_ok", lambda url, timeout_s=2.0: url.startswith(urls) if urls else False
    )


def _record(infrastructure: LocalInfrastructure, state: dict) -> None:
    infrastructure.run_dir.mkdir(parents=True, exist_ok=True)
    infrastructure.state_file.write_text(json.dumps(state))


def _line(lines: list[str], service: str) -> str:
    (line,) = [line for line in lines if line.startswith(service)]
    return line


# --- Status ---------------------------------------------------------------------------------------------------
def test_describe_service_says_what_runs_and_who_started_it():
    assert describe_service(True, "nx-27017", UP) == f"UP (nx-27017, started by {UP})"
    assert describe_service(True) == "UP (not started by this project)"
    assert describe_service(False) == "DOWN"
    assert describe_service(False, "nx-27017", UP) == f"DOWN (nx-27017 started by {UP} is not answering)"


def test_status_after_up_names_what_this_project_started(infrastructure, monkeypatch):
    zenml = {"port": 8299, "config_path": str(infrastructure.zenml_home.path)}
    _record(infrastructure, {"warehouse": {"kind": "nx-27017", "port": 27999}, "zenml": zenml})
    _answering(monkeypatch, ports={27999}, urls=("http://127.0.0.1:8299",))

    lines = infrastructure.status()

    assert len(lines) == 4  # warehouse, vector DB, zenml, llm: one line each
    assert _line(lines, "warehouse").endswith(f"mongodb://127.0.0.1:27999  db=twin  UP (nx-27017, started by {UP})")
    assert _line(lines, "zenml").endswith(
        f"http://127.0.0.1:8299  store {infrastructure.zenml_home.path}  UP (ZenML local daemon, started by {UP})"
    )
    assert _line(lines, "llm").endswith("http://127.0.0.1:8001/v1  DOWN")
    assert "embedded Qdrant" in _line(lines, "vector DB")


def test_status_of_services_up_but_started_elsewhere(infrastructure, monkeypatch):
    _answering(monkeypatch, ports={27999}, urls=("http://127.0.0.1:8299", "http://127.0.0.1:8001"))

    lines = infrastructure.status()

    for service in ("warehouse", "zenml", "llm"):
        assert _line(lines, service).endswith("  UP (not started by this project)"), lines


def test_status_after_down_is_plain_down(infrastructure, monkeypatch):
    _record(infrastructure, {})  # what `down` leaves
    _answering(monkeypatch)

    lines = infrastructure.status()

    for service in ("warehouse", "zenml", "llm"):
        assert _line(lines, service).endswith("  DOWN"), lines
    assert "not started by this project" not in "\n".join(lines)


def test_status_flags_a_recorded_service_that_stopped_answering(infrastructure, monkeypatch):
    _record(infrastructure, {"warehouse": {"kind": "docker"}, "zenml": True})  # `True`: state of older `up`s
    _answering(monkeypatch)

    lines = infrastructure.status()

    assert _line(lines, "warehouse").endswith(f"DOWN (docker compose started by {UP} is not answering)")
    assert _line(lines, "zenml").endswith(f"DOWN (ZenML local daemon started by {UP} is not answering)")


def test_status_names_local_llm_up_when_its_pid_is_alive(infrastructure, monkeypatch):
    infrastructure.run_dir.mkdir(parents=True)
    (infrastructure.run_dir / "local-llm-8001.pid").write_text(str(os.getpid()))  # a live pid: this test
    _answering(monkeypatch, urls=("http://127.0.0.1:8001",))

    assert _line(infrastructure.status(), "llm").endswith("UP (transformers serve, started by local-llm-up)")


# --- start_zenml / stop_zenml --------------------------------------------------------------------------------
def _fake_zenml(tmp_path: Path, body: str) -> Path:
    """A `zenml` stand-in that logs its arguments and analytics setting, then runs `body`."""
    script = tmp_path / "zenml"
    script.write_text(
        '#!/bin/sh\necho "args: $*"\necho "analytics: $ZENML_ANALYTICS_OPT_IN open: $ZENML_AUTO_OPEN_DASHBOARD"\n'
        + body
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.fixture
def fake_start(infrastructure, monkeypatch, tmp_path):
    """Dashboard down until the fake login ran; no REST calls; progress every 0.1 s instead of 10 s."""
    _answering(monkeypatch)
    monkeypatch.setattr(local_infrastructure, "PROGRESS_EVERY_S", 0.1)
    monkeypatch.setattr(
        local_infrastructure, "prepare_dashboard", lambda dashboard: DashboardSetup(survey_completed_now=True)
    )

    def use(body: str) -> None:
        script = _fake_zenml(tmp_path, body)
        monkeypatch.setattr(local_infrastructure, "venv_executable", lambda name: str(script))

    return use


def test_start_zenml_reports_progress_then_where_the_runs_are(infrastructure, fake_start):
    fake_start("sleep 0.35\n")
    progress: list[str] = []

    guide = infrastructure.start_zenml(progress=progress.append)

    assert progress[0] == "zenml: starting the local ZenML server on 127.0.0.1:8299 (about 30 s)..."
    assert any(line.startswith("zenml: still starting (") for line in progress[1:-1]), progress
    assert progress[-1].startswith("zenml: ready in ") and progress[-1].endswith(" s")
    assert guide.splitlines()[0] == "zenml: pipeline runs at http://127.0.0.1:8299/projects/default/runs"
    assert "no login locally" in guide and "analytics off" in guide
    assert "first-visit survey is marked answered" in guide and "Metadata tab" in guide
    log = infrastructure.zenml_log_file.read_text()
    assert "args: login --local --port 8299" in log
    assert "analytics: false open: false" in log
    assert json.loads(infrastructure.state_file.read_text())["zenml"] == {
        "port": 8299,
        "config_path": str(infrastructure.zenml_home.path),
    }


def test_start_zenml_failure_shows_the_log_tail(infrastructure, fake_start):
    fake_start("echo 'Error: port in use' >&2\nexit 3\n")

    message = infrastructure.start_zenml()

    assert "failed (exit code 3)" in message and "Error: port in use" in message
    assert str(infrastructure.zenml_log_file) in message
    assert not infrastructure.state_file.exists()  # nothing recorded: `down` will not try to stop it


def test_start_zenml_gives_up_after_its_timeout(infrastructure, fake_start, monkeypatch):
    fake_start("sleep 30\n")
    monkeypatch.setattr(local_infrastructure, "ZENML_START_TIMEOUT_S", 0.3)

    message = infrastructure.start_zenml()

    assert "did not finish within 0 s" in message


def test_start_zenml_explains_the_survey_when_it_could_not_skip_it(infrastructure, fake_start, monkeypatch):
    fake_start("exit 0\n")
    problem = DashboardSetup(problems=["could not skip the first-visit survey (HTTP Error 500)"])
    monkeypatch.setattr(local_infrastructure, "prepare_dashboard", lambda dashboard: problem)

    guide = infrastructure.start_zenml()

    assert "note: could not skip the first-visit survey (HTTP Error 500)" in guide
    assert "'Add your account details'" in guide and "untick the newsletter box" in guide


def test_start_zenml_leaves_a_dashboard_it_did_not_start_alone(infrastructure, monkeypatch):
    _answering(monkeypatch, ports={8299}, urls=("http://127.0.0.1:8299",))
    monkeypatch.setattr(local_infrastructure, "prepare_dashboard", lambda dashboard: pytest.fail("must not touch it"))

    assert infrastructure.start_zenml() == (
        "zenml: port 8299 is taken by something that does not serve this checkout's store "
        f"({infrastructure.zenml_home.path}); left alone"
    )


def test_stop_zenml_twice_is_safe(infrastructure, fake_start, tmp_path):
    calls = tmp_path / "calls"
    fake_start(f'echo "$*" >> {calls}\n')
    _record(infrastructure, {"zenml": {"port": 8299}})

    assert infrastructure.stop_zenml() == "zenml: dashboard stopped"
    assert infrastructure.stop_zenml() == f"zenml: dashboard not started by {UP}"
    assert calls.read_text().splitlines() == ["logout --local"]


def test_stop_zenml_points_at_a_dashboard_started_elsewhere(infrastructure, monkeypatch):
    _answering(monkeypatch, urls=("http://127.0.0.1:8299",))

    message = infrastructure.stop_zenml()

    assert message == (
        f"zenml: the dashboard at http://127.0.0.1:8299 was not started by {UP} and does not serve this checkout's "
        "store; left alone"
    )
