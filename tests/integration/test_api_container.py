"""The `api` image built from the Dockerfile: it starts as the unprivileged user, answers GET /health on its
published port, and Docker's own HEALTHCHECK turns healthy. Needs a Docker engine; skipped without one."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import PROJECT_ROOT, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IMAGE = "llm-twin-api:test"
BUILD_TIMEOUT_S = 3600


def _docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


@pytest.fixture(scope="module")
def docker_engine() -> None:
    if shutil.which("docker") is None:
        pytest.skip("no docker client installed")
    try:
        info = _docker("info", "--format", "{{.ServerVersion}}", timeout=30, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip("`docker info` did not answer within 30 s")
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no reason given"])[-1]
        pytest.skip(f"no Docker engine answers (`docker info` failed: {reason})")


@pytest.fixture(scope="module")
def api_container(docker_engine) -> Iterator[tuple[str, str]]:
    """The api target built and started on a free loopback port; yields its name and base URL, then removes it."""
    build = subprocess.run(
        ["docker", "build", "--target", "api", "--tag", IMAGE, "."],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert build.returncode == 0, (build.stdout + build.stderr)[-4000:]
    port = free_port()
    name = f"llm-twin-api-test-{uuid.uuid4().hex[:8]}"
    # No stores run beside it: /health answers anyway (it checks the process only; /ready checks the rest).
    _docker("run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:8000", IMAGE)
    try:
        yield name, f"http://127.0.0.1:{port}"
    finally:
        logs = _docker("logs", "--tail", "50", name, check=False)
        print(logs.stdout[-3000:], logs.stderr[-3000:])
        _docker("rm", "--force", name, check=False)


def _get_json(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, json.loads(response.read())


def test_health_answers_from_the_container(api_container):
    _, base_url = api_container
    deadline = time.monotonic() + 180
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            assert _get_json(f"{base_url}/health") == (200, {"status": "ok"})
            return
        except OSError as error:  # not listening yet
            last_error = error
            time.sleep(2)
    pytest.fail(f"GET /health did not answer within 180 s: {last_error}")


def test_container_runs_as_the_app_user_and_turns_healthy(api_container):
    name, _ = api_container
    assert _docker("exec", name, "id", "-u").stdout.strip() == "10001"
    deadline = time.monotonic() + 150  # start period 60 s, then a probe every 30 s
    status = ""
    while time.monotonic() < deadline:
        status = _docker("inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip()
        if status in ("healthy", "unhealthy"):
            break
        time.sleep(3)
    assert status == "healthy"
