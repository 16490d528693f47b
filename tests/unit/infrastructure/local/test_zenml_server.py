"""This checkout's ZenML server: its port (8237, or the next free one, remembered), the store it serves
(LOCAL_DATA_DIR/zenml) and which server `down` stops. The `zenml` command is a small shell script that logs
its arguments and ZENML_CONFIG_PATH; probes are monkeypatched, so nothing real starts here."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from llm_engineering.bootstrap import build_local_infrastructure
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.local import local_infrastructure
from llm_engineering.infrastructure.local.zenml_dashboard import DashboardSetup
from llm_engineering.infrastructure.local.zenml_server import (
    checkout_dashboard,
    choose_port,
    daemon_port,
    remembered_port,
)
from llm_engineering.infrastructure.zenml_home import CONFIG_PATH_VARIABLE, DEFAULTED_VARIABLE, STORE_URL_VARIABLE
from llm_engineering.settings import load_settings


# --- Port choice -----------------------------------------------------------------------------------------
def test_a_checkout_takes_8237_when_free_and_keeps_it(tmp_path):
    run_dir = tmp_path / "run"
    assert checkout_dashboard(run_dir).port == 8237  # before any start: ZenML's default

    assert choose_port(run_dir, taken=lambda port: False).port == 8237
    assert remembered_port(run_dir) == 8237


def test_a_taken_port_moves_the_checkout_to_the_next_free_one_and_says_so(tmp_path):
    run_dir = tmp_path / "run"
    busy = {8237, 8238}

    choice = choose_port(run_dir, taken=lambda port: port in busy)

    assert choice.port == 8239
    assert choice.moved is not None and "port 8237 is taken" in choice.moved and "uses 8239" in choice.moved
    assert remembered_port(run_dir) == 8239 and checkout_dashboard(run_dir).url == "http://127.0.0.1:8239"
    # 8237 frees up later: the checkout stays where its dashboard's address now is.
    assert choose_port(run_dir, taken=lambda port: False) == choose_port(run_dir, taken=lambda port: port == 8237)
    assert remembered_port(run_dir) == 8239


def test_no_free_port_is_a_clear_error(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="No free port for the ZenML dashboard"):
        choose_port(tmp_path / "run", taken=lambda port: True)


def _daemon(config: Path, port: int, pid: int) -> None:
    """What `zenml login --local` leaves under its config folder while its server runs."""
    folder = config / "zen_server" / "daemon"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.pid").write_text(str(pid))
    (folder / "service.json").write_text(json.dumps({"config": {"server": {"port": port}}}))


def test_daemon_port_is_the_running_server_of_this_config(tmp_path):
    assert daemon_port(tmp_path / "zenml") is None
    _daemon(tmp_path / "zenml", 8241, os.getpid())  # a live pid: this test
    assert daemon_port(tmp_path / "zenml") == 8241
    _daemon(tmp_path / "zenml", 8241, 2**22 + 12345)  # no such process
    assert daemon_port(tmp_path / "zenml") is None


# --- LocalInfrastructure on this checkout's store ------------------------------------------------------------
@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A checkout whose ZenML store is the project default (no ZENML_CONFIG_PATH of the user's)."""
    monkeypatch.delenv(CONFIG_PATH_VARIABLE, raising=False)
    monkeypatch.delenv(DEFAULTED_VARIABLE, raising=False)
    monkeypatch.delenv(STORE_URL_VARIABLE, raising=False)
    settings = load_settings(env_file=tmp_path / "none.env", LOCAL_DATA_DIR=tmp_path / "checkout" / ".local")
    return settings


@pytest.fixture
def fake_zenml(tmp_path, monkeypatch):
    """`zenml` logs its arguments and ZENML_CONFIG_PATH to `calls`; no REST calls; ports answer as `busy` says."""
    calls = tmp_path / "calls"
    script = tmp_path / "zenml"
    script.write_text(f'#!/bin/sh\necho "$* config=$ZENML_CONFIG_PATH" >> {calls}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(local_infrastructure, "venv_executable", lambda name: str(script))
    monkeypatch.setattr(local_infrastructure, "prepare_dashboard", lambda dashboard: DashboardSetup())
    busy: set[int] = set()
    monkeypatch.setattr(local_infrastructure, "port_open", lambda host, port, timeout_s=0.5: port in busy)
    monkeypatch.setattr(
        local_infrastructure, "http_ok", lambda url, timeout_s=2.0: any(f":{port}/" in url for port in busy)
    )
    return calls, busy


def test_up_serves_this_checkouts_store_on_its_own_port(checkout, fake_zenml):
    calls, busy = fake_zenml
    busy.add(8237)  # another checkout's dashboard
    infrastructure = build_local_infrastructure(checkout, project_root=checkout.LOCAL_DATA_DIR.parent)
    store = checkout.LOCAL_DATA_DIR.resolve() / "zenml"
    progress: list[str] = []

    guide = infrastructure.start_zenml(progress=progress.append)

    assert progress[0].startswith("zenml: port 8237 is taken") and "uses 8238" in progress[0]
    assert progress[1].startswith("zenml: starting the local ZenML server on 127.0.0.1:8238")
    assert guide.splitlines()[0] == "zenml: pipeline runs at http://127.0.0.1:8238/projects/default/runs"
    assert calls.read_text().splitlines() == [f"login --local --port 8238 config={store}"]
    state = json.loads(infrastructure.state_file.read_text())
    assert state["zenml"] == {"port": 8238, "config_path": str(store)}
    assert infrastructure.dashboard.port == 8238  # remembered: status and the UI's links use it

    busy.add(8238)  # now up
    line = next(line for line in infrastructure.status() if line.startswith("zenml"))
    assert f"http://127.0.0.1:8238  store {store}  UP (ZenML local daemon" in line

    busy.discard(8238)  # the fake logout "stopped" it
    assert infrastructure.stop_zenml() == "zenml: dashboard stopped"
    assert calls.read_text().splitlines()[-1] == f"logout --local config={store}"


def test_down_stops_this_checkouts_server_even_when_started_by_hand(checkout, fake_zenml):
    calls, _ = fake_zenml
    infrastructure = build_local_infrastructure(checkout, project_root=checkout.LOCAL_DATA_DIR.parent)
    store = checkout.LOCAL_DATA_DIR.resolve() / "zenml"
    _daemon(store, 8240, os.getpid())  # `zenml login --local` run by hand on this checkout's store

    assert infrastructure.dashboard.port == 8240
    assert infrastructure.stop_zenml() == "zenml: dashboard stopped"
    assert calls.read_text().splitlines() == [f"logout --local config={store}"]


def test_a_dashboard_of_the_machine_wide_store_from_an_earlier_up_is_left_to_down(checkout, fake_zenml, monkeypatch):
    calls, busy = fake_zenml
    busy.add(8237)
    infrastructure = build_local_infrastructure(checkout, project_root=checkout.LOCAL_DATA_DIR.parent)
    infrastructure.run_dir.mkdir(parents=True)
    infrastructure.state_file.write_text(json.dumps({"zenml": {"port": 8237}}))  # before stores were per checkout

    message = infrastructure.start_zenml()

    assert "machine-wide ZenML store" in message and "local-infrastructure-down" in message
    assert not calls.exists()  # nothing started
    line = next(line for line in infrastructure.status() if line.startswith("zenml"))
    assert "(machine-wide: started before stores were per checkout)  UP (ZenML local daemon" in line
    # `down` stops it on the store it serves: ZenML's own folder, not the project default this process exported.
    store = str(checkout.LOCAL_DATA_DIR.resolve() / "zenml")
    monkeypatch.setenv(CONFIG_PATH_VARIABLE, store)
    monkeypatch.setenv(DEFAULTED_VARIABLE, store)
    busy.clear()
    assert infrastructure.stop_zenml() == "zenml: dashboard stopped"
    assert calls.read_text().splitlines() == ["logout --local config="]


def test_a_user_config_path_is_served_as_it_is(checkout, fake_zenml, tmp_path, monkeypatch):
    calls, _ = fake_zenml
    monkeypatch.setenv(CONFIG_PATH_VARIABLE, str(tmp_path / "mine"))
    infrastructure = build_local_infrastructure(checkout, project_root=checkout.LOCAL_DATA_DIR.parent)

    infrastructure.start_zenml()

    assert calls.read_text().splitlines() == [f"login --local --port 8237 config={tmp_path / 'mine'}"]


def test_with_a_zenml_server_there_is_no_local_one_to_start(checkout, fake_zenml, monkeypatch):
    calls, _ = fake_zenml
    monkeypatch.setenv(STORE_URL_VARIABLE, "https://zenml.example.org")
    infrastructure = build_local_infrastructure(checkout, project_root=checkout.LOCAL_DATA_DIR.parent)

    assert infrastructure.start_zenml() == (
        "zenml: ZENML_STORE_URL points ZenML at https://zenml.example.org; no local server to start"
    )
    assert not calls.exists()
    line = next(line for line in infrastructure.status() if line.startswith("zenml"))
    assert line.startswith("zenml       https://zenml.example.org  (ZENML_STORE_URL)")
