"""Run the RAG API (`uvicorn tools.ml_service:app`) as a child process, for the quickstart, benches and tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from llm_engineering.infrastructure.local_services import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def wait_http_ok(url: str, timeout_s: float, process: subprocess.Popen | None = None) -> bool:
    """Poll `url` until it answers 200; False on timeout or when `process` exits first."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def api_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "tools.ml_service:app", "--host", host, "--port", str(port)]


@contextmanager
def running_api(
    environment: Mapping[str, str] | None,
    log_path: Path,
    port: int | None = None,
    startup_timeout_s: float = 120.0,
) -> Iterator[str]:
    """Start the API on 127.0.0.1 (a free port unless given) with these extra settings; yield its base URL.

    The process is stopped on exit. A start failure raises RuntimeError with the tail of its log.
    """
    port = port or free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            api_command("127.0.0.1", port),
            cwd=PROJECT_ROOT,
            env={**os.environ, **(environment or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_http_ok(f"{base}/health", startup_timeout_s, process):
            raise RuntimeError(f"the API did not answer (exit code {process.poll()}):\n{log_path.read_text()[-3000:]}")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
