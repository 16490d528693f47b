"""The shared process helpers against real throwaway processes and sockets on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.local.processes import (
    PidStop,
    StopOutcome,
    free_port,
    http_ok,
    pid_alive,
    port_open,
    read_pid_file,
    stop_pid,
    stop_process,
    venv_executable,
    wait_for_port,
    wait_http_ok,
)
from tests.waiting import CEILING_S

# A child that ignores SIGTERM and says so once the handler is in place (so the test never races it).
STUBBORN = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"


def _python(code: str, **kwargs) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, **kwargs)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def _gone(pid: int) -> bool:
    """Exited, or a zombie left for a parent that is not us (a container's init may never reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return not pid_alive(pid)
    return state == "Z"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP socket listening on a free 127.0.0.1 port (it accepts nothing)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `python -m http.server` on a free port, serving one file; yields its base URL."""
    root = tmp_path_factory.mktemp("site")
    (root / "health").write_text("ok")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_http_ok(f"{base}/health", timeout_s=CEILING_S, process=process)
        yield base
    finally:
        stop_process(process, timeout_s=5)


# --- Ports -----------------------------------------------------------------------------------------------
def test_free_port_is_closed_and_a_listener_opens_it(listener):
    assert not port_open("127.0.0.1", free_port())
    port = listener.getsockname()[1]
    assert port_open("127.0.0.1", port)
    assert wait_for_port("127.0.0.1", port, timeout_s=CEILING_S)


def test_wait_for_port_times_out_on_a_closed_port():
    started = time.monotonic()
    assert not wait_for_port("127.0.0.1", free_port(), timeout_s=0.3)
    assert 0.3 <= time.monotonic() - started < 3


def test_waits_stop_as_soon_as_the_server_process_exits():
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait(timeout=30)
    started = time.monotonic()
    assert not wait_for_port("127.0.0.1", free_port(), timeout_s=30, process=process)
    assert not wait_http_ok(f"http://127.0.0.1:{free_port()}/", timeout_s=30, process=process)
    assert time.monotonic() - started < 5


# --- HTTP ------------------------------------------------------------------------------------------------
def test_http_ok_on_a_real_server(http_server):
    assert http_ok(f"{http_server}/health")
    assert not http_ok(f"{http_server}/missing")  # 404
    assert not http_ok(f"http://127.0.0.1:{free_port()}/health")  # refused
    assert not http_ok("not a url")


def test_loopback_urls_bypass_the_environment_proxy(http_server, monkeypatch):
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead_proxy)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert http_ok(f"{http_server}/health")


def test_http_ok_is_false_when_the_peer_does_not_speak_http(listener):
    port = listener.getsockname()[1]
    listener.settimeout(5)

    import threading

    def answer_garbage() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(1024)
            connection.sendall(b"\x00\x01 not http at all\r\n\r\n")

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    assert not http_ok(f"http://127.0.0.1:{port}/health", timeout_s=5)
    thread.join(timeout=5)


# --- Executables -----------------------------------------------------------------------------------------
def test_venv_executable_prefers_the_interpreters_folder(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    found = venv_executable("pytest")  # a console script of this virtualenv, found without PATH
    assert Path(found) == Path(sys.executable).parent / "pytest"


def test_venv_executable_falls_back_to_path_then_fails_clearly(tmp_path, monkeypatch):
    script = tmp_path / "only-on-path-tool"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert venv_executable("only-on-path-tool") == str(script)
    with pytest.raises(ImproperlyConfigured, match=r"'no-such-tool-xyz'.*not installed"):
        venv_executable("no-such-tool-xyz")


# --- Stopping a child ------------------------------------------------------------------------------------
def test_pid_alive_follows_a_child_and_rejects_group_ids():
    assert pid_alive(os.getpid())
    assert not pid_alive(0) and not pid_alive(-1)
    process = _python(SLEEPER)
    assert pid_alive(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + CEILING_S
    while pid_alive(process.pid) and time.monotonic() < deadline:  # the zombie is reaped, not reported alive
        time.sleep(0.05)
    assert not pid_alive(process.pid)


def test_stop_process_terminates_a_child():
    process = _python(SLEEPER)
    assert stop_process(process, timeout_s=10) == -signal.SIGTERM
    assert stop_process(process, timeout_s=10) == -signal.SIGTERM  # safe twice


def test_stop_process_kills_a_child_that_ignores_sigterm():
    process = _python(STUBBORN)
    started = time.monotonic()
    assert stop_process(process, timeout_s=0.5) == -signal.SIGKILL
    assert time.monotonic() - started < 5


# --- Stopping a daemon by pid ----------------------------------------------------------------------------
def test_stop_pid_from_a_pid_file_then_twice(tmp_path):
    process = _python(SLEEPER, start_new_session=True)
    pid_file = tmp_path / "daemon.pid"
    pid_file.write_text(f"{process.pid}\n")
    assert read_pid_file(pid_file) == process.pid
    stopped = stop_pid(pid_file, timeout_s=10)
    assert stopped == PidStop(process.pid, StopOutcome.STOPPED)
    assert stopped.describe("daemon") == f"daemon: stopped process {process.pid}"
    assert not pid_file.exists()
    assert stop_pid(pid_file).describe("daemon") == "daemon: not started by this project"


def test_stop_pid_kills_a_daemon_that_ignores_sigterm_and_its_workers(tmp_path):
    # A session leader that forks a worker, like a server with worker processes; both ignore SIGTERM.
    code = (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"worker = subprocess.Popen([sys.executable, '-c', {STUBBORN!r}], stdout=subprocess.PIPE, text=True); "
        "worker.stdout.readline(); print('ready', flush=True); print(worker.pid, flush=True); time.sleep(60)"
    )
    process = _python(code, start_new_session=True)
    assert process.stdout is not None
    worker_pid = int(process.stdout.readline())
    stopped = stop_pid(process.pid, timeout_s=0.5)
    assert stopped.outcome is StopOutcome.KILLED
    assert "killed" in stopped.describe("daemon")
    assert not pid_alive(process.pid)
    deadline = time.monotonic() + CEILING_S
    while not _gone(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(worker_pid)  # signalled as a group: the worker went with its leader


def test_stop_pid_on_an_exited_process_or_a_bad_pid_file(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(timeout=30)
    pid_file = tmp_path / "old.pid"
    pid_file.write_text(str(process.pid))
    assert stop_pid(pid_file) == PidStop(process.pid, StopOutcome.ALREADY_EXITED)
    assert not pid_file.exists()
    pid_file.write_text("not a pid")
    assert stop_pid(pid_file).outcome is StopOutcome.NO_PID
    assert read_pid_file(tmp_path / "absent.pid") is None
