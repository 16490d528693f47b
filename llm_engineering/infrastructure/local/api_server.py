"""Run an ASGI app (the RAG API) under uvicorn as a child process, for the quickstart, benches and tests.

The app is named by its import string (`"package.module:attribute"`, with `factory=True` when the
attribute is a function returning the app), so this module knows nothing about which service it runs beyond
the convention of the project's API: `GET /health` answers once the process serves, and `GET /ready` answers
503 `{"status": "warming_up"}` while it loads its models (an app without it is warm at once).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llm_engineering.infrastructure.local.processes import free_port, stop_process, wait_http_ok

# The folder holding `llm_engineering` and `tools`, so an app string such as "tools.ml_service:app" imports.
PROJECT_ROOT = Path(__file__).resolve().parents[3]
# A first start may export and load the embedding model (a minute or more on a busy CPU).
WARM_UP_TIMEOUT_S = 600.0
WARMING_UP = "warming_up"


def readiness(base: str, timeout_s: float = 60.0) -> dict[str, Any] | None:
    """`GET {base}/ready` as JSON (200 and 503 alike), or None when it does not answer with a JSON object."""
    # Loopback: no HTTP proxy from the environment in between.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{base}/ready", timeout=timeout_s) as response:
            body = response.read()
    except urllib.error.HTTPError as error:  # 503: not ready, with the same body
        body = error.read()
    except OSError:
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def wait_until_warm(
    base: str, timeout_s: float = WARM_UP_TIMEOUT_S, process: subprocess.Popen | None = None, interval_s: float = 0.5
) -> dict[str, Any] | None:
    """Poll `GET {base}/ready` until it no longer says `warming_up`; its last answer (None: no JSON answer).

    Raises TimeoutError when it still warms up after `timeout_s`, RuntimeError when `process` exits first.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        answer = readiness(base)
        if answer is None or answer.get("status") != WARMING_UP:
            return answer
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the API on {base} exited (code {process.returncode}) while warming up")
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"the API on {base} still warms up after {timeout_s:.0f}s (waiting for "
                f"{', '.join(answer.get('waiting_for') or ['?'])})"
            )
        time.sleep(interval_s)


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
    warm_up_timeout_s: float | None = WARM_UP_TIMEOUT_S,
) -> tuple[subprocess.Popen, str]:
    """Start uvicorn serving `app` on `host` (a free port unless given) with these extra environment
    variables, appending its output to `log_path`; wait until `GET /health` answers 2xx, then, unless
    `warm_up_timeout_s` is None, until its warm-up has ended (`wait_until_warm`): the first request then
    loads nothing.

    `detach` puts it in its own session, so it outlives this process. Returns the process and its base
    URL; the caller stops it (`stop_process`). A start failure (warm-up past its timeout included) stops it
    and raises RuntimeError with the tail of its log.
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
    if warm_up_timeout_s is not None:
        try:
            wait_until_warm(base, warm_up_timeout_s, process=process)
        except (TimeoutError, RuntimeError) as error:
            stop_process(process, timeout_s=20)
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{error}:\n{tail}") from error
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
    warm_up_timeout_s: float | None = WARM_UP_TIMEOUT_S,
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
        warm_up_timeout_s=warm_up_timeout_s,
    )
    try:
        yield base
    finally:
        stop_process(process, timeout_s=20)
