"""Run an ASGI app (the RAG API) under uvicorn as a child process, for the quickstart, benches and tests.

The app is named by its import string (`"package.module:attribute"`, with `factory=True` when the
attribute is a function returning the app), so this module knows nothing about which service it runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from llm_engineering.infrastructure.local.processes import free_port, stop_process, wait_http_ok

# The folder holding `llm_engineering` and `tools`, so an app string such as "tools.ml_service:app" imports.
PROJECT_ROOT = Path(__file__).resolve().parents[3]


def api_command(app: str, host: str, port: int, *, factory: bool = False, log_level: str | None = None) -> list[str]:
    """The uvicorn command line serving ASGI `app` on `host:port` with this interpreter."""
    command = [sys.executable, "-m", "uvicorn", app, "--host", host, "--port", str(port)]
    if factory:
        command.append("--factory")
    if log_level:
        command += ["--log-level", log_level]
    return command


def start_api(
    app: str,
    log_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    environment: Mapping[str, str] | None = None,
    factory: bool = False,
    log_level: str | None = None,
    detach: bool = False,
    cwd: Path = PROJECT_ROOT,
    startup_timeout_s: float = 120.0,
) -> tuple[subprocess.Popen, str]:
    """Start uvicorn serving `app` on `host` (a free port unless given) with these extra environment
    variables, appending its output to `log_path`; wait until `GET /health` answers 2xx.

    `detach` puts it in its own session, so it outlives this process. Returns the process and its base
    URL; the caller stops it (`stop_process`). A start failure stops it and raises RuntimeError with the
    tail of its log.
    """
    port = port or free_port(host)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            api_command(app, host, port, factory=factory, log_level=log_level),
            cwd=cwd,
            env={**os.environ, **(environment or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=detach,
        )
    base = f"http://{host}:{port}"
    if not wait_http_ok(f"{base}/health", startup_timeout_s, process=process):
        stop_process(process, timeout_s=20)
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the API {app} did not answer on {base} (exit code {process.returncode}):\n{tail}")
    return process, base


@contextmanager
def running_api(
    app: str,
    log_path: Path,
    *,
    environment: Mapping[str, str] | None = None,
    port: int | None = None,
    factory: bool = False,
    cwd: Path = PROJECT_ROOT,
    startup_timeout_s: float = 120.0,
) -> Iterator[str]:
    """`start_api` on 127.0.0.1 for the duration of the block; yields the base URL, stops the process on exit."""
    process, base = start_api(
        app,
        log_path,
        port=port,
        environment=environment,
        factory=factory,
        cwd=cwd,
        startup_timeout_s=startup_timeout_s,
    )
    try:
        yield base
    finally:
        stop_process(process, timeout_s=20)
