"""The one set of helpers for processes this project runs on the developer's machine: probe a port or an
HTTP endpoint, find a free port, find a console script of the virtualenv, and stop a process, whether it
is a child of this process (`stop_process`) or a daemon started earlier and recorded in a pid file
(`stop_pid`).
"""

from __future__ import annotations

import contextlib
import enum
import functools
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from llm_engineering.domain.exceptions import ImproperlyConfigured

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


# --- Ports and HTTP ---------------------------------------------------------------------------------------
def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when something accepts a TCP connection on `host:port` within `timeout_s`."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now (another process may still take it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    host: str, port: int, timeout_s: float, process: subprocess.Popen | None = None, interval_s: float = 0.05
) -> bool:
    """Poll `host:port` until it accepts a connection: True then; False on timeout or when `process`
    (the server expected to open the port) exits first, so callers fail fast with its log."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process is not None and process.poll() is not None:
            return False
        if port_open(host, port, timeout_s=min(0.5, max(timeout_s, 0.05))):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    """True when a GET of `url` answers 2xx within `timeout_s`; False on any error, bad URL or non-HTTP peer.

    Loopback URLs bypass the environment's HTTP proxy: a corporate proxy cannot reach this machine's ports.
    """
    try:
        host = urllib.parse.urlparse(url).hostname
        open_url = _direct_opener().open if host in LOOPBACK_HOSTS else urllib.request.urlopen
        with open_url(url, timeout=timeout_s) as response:
            return 200 <= response.status < 300
    # HTTPException: something that is not an HTTP server (a MongoDB port) answered.
    except (OSError, ValueError, http.client.HTTPException):
        return False


def wait_http_ok(url: str, timeout_s: float, process: subprocess.Popen | None = None, interval_s: float = 0.2) -> bool:
    """Poll `url` until it answers 2xx: True then; False on timeout or when `process` exits first."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process is not None and process.poll() is not None:
            return False
        if http_ok(url, timeout_s=max(0.1, min(2.0, deadline - time.monotonic()))):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


@functools.cache
def _direct_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --- Executables -----------------------------------------------------------------------------------------
def venv_executable(name: str) -> str:
    """The path of console script `name`: the one installed beside this interpreter (the project's
    virtualenv, even when it is not activated), else the one on PATH.

    Raises ImproperlyConfigured naming both places when neither has it.
    """
    # Not resolved: a virtualenv's python is a symlink to the base interpreter, whose folder lacks the scripts.
    bin_dir = Path(sys.executable).parent
    candidate = bin_dir / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise ImproperlyConfigured(
        f"The command {name!r} is not installed: it is neither in {bin_dir} nor on PATH. "
        "Install the project's dependencies (bash scripts/setup.sh, or poetry install)."
    )


# --- Stopping --------------------------------------------------------------------------------------------
def pid_alive(pid: int) -> bool:
    """True while process `pid` exists (a zombie child of this process is reaped and counts as gone)."""
    if pid <= 0:  # 0 and negatives address process groups, never one process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # alive, and not our child
    return finished == 0


def stop_process(process: subprocess.Popen, timeout_s: float = 10.0) -> int:
    """Stop a child process: SIGTERM, wait up to `timeout_s`, then SIGKILL. Returns its exit code
    (negative: the signal that ended it). Safe on a process that has already exited."""
    if process.poll() is not None:
        return process.returncode
    process.terminate()
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(timeout=timeout_s)


class StopOutcome(enum.Enum):
    NO_PID = "no pid"
    ALREADY_EXITED = "already exited"
    STOPPED = "stopped"
    KILLED = "killed"


@dataclass(frozen=True)
class PidStop:
    """What `stop_pid` did: the pid it read (None without a readable pid file) and how it ended."""

    pid: int | None
    outcome: StopOutcome

    def describe(self, label: str) -> str:
        """One line for a `down` command, e.g. `local LLM: stopped process 4242`."""
        if self.outcome is StopOutcome.NO_PID:
            return f"{label}: not started by this project"
        if self.outcome is StopOutcome.ALREADY_EXITED:
            return f"{label}: process {self.pid} had already exited"
        if self.outcome is StopOutcome.KILLED:
            return f"{label}: stopped process {self.pid} (killed: it ignored SIGTERM)"
        return f"{label}: stopped process {self.pid}"


def read_pid_file(pid_file: Path) -> int | None:
    """The pid recorded in `pid_file`, or None when the file is missing or holds no number."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 else None


def stop_pid(target: int | Path, timeout_s: float = 10.0) -> PidStop:
    """Stop a daemon started by an earlier process, given its pid or its pid file: SIGTERM, wait up to
    `timeout_s`, then SIGKILL. A daemon leading its own process group is signalled as a group, so the
    workers it forked stop with it. The pid file, if given, is removed. Safe to call twice."""
    pid_file = target if isinstance(target, Path) else None
    pid = read_pid_file(target) if isinstance(target, Path) else target
    if pid is None:
        return PidStop(None, StopOutcome.NO_PID)
    try:
        if not pid_alive(pid):
            return PidStop(pid, StopOutcome.ALREADY_EXITED)
        _signal(pid, signal.SIGTERM)
        if wait_gone(pid, timeout_s):
            return PidStop(pid, StopOutcome.STOPPED)
        _signal(pid, signal.SIGKILL)
        wait_gone(pid, 5.0)  # SIGKILL cannot be ignored; this only lets the kernel finish
        return PidStop(pid, StopOutcome.KILLED)
    finally:
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid and pid != os.getpgrp():
            try:
                os.killpg(pid, signum)
                return
            except PermissionError:
                pass  # a group member belongs to someone else: signal the leader alone
        os.kill(pid, signum)


def wait_gone(pid: int, timeout_s: float, interval_s: float = 0.05) -> bool:
    """True once process `pid` has exited; False if it is still alive after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
    return True
