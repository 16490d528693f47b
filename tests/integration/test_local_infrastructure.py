"""`local-infrastructure-up/down/status` with the embedded nx-27017 warehouse (no Docker engine here)."""

import pytest

from tests.cli import run_module
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def test_up_down_status_are_idempotent(tmp_path):
    port = free_port()
    env = {
        "DATABASE_HOST": f"mongodb://127.0.0.1:{port}",
        "LOCAL_DATA_DIR": str(tmp_path / "local"),
        "ENV_FILE": str(tmp_path / "none.env"),
        "LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
        "PATH": "/usr/bin:/bin",
    }

    def run(*args: str) -> str:
        return run_module("tools.local_infrastructure", *args, env=env)

    try:
        assert "nx-27017 started" in run("up", "--no-docker", "--no-zenml")
        assert "already answering" in run("up", "--no-docker", "--no-zenml")
        warehouse_line = run("status").splitlines()[0]
        assert warehouse_line.startswith("warehouse") and f"127.0.0.1:{port}" in warehouse_line
        assert warehouse_line.endswith("UP (nx-27017, started by local-infrastructure-up)")
        assert (tmp_path / "local" / "warehouse").is_dir()
    finally:
        first_down = run("down")
    assert "stopped process" in first_down
    second_down = run("down")
    assert "warehouse: nothing started by local-infrastructure-up" in second_down
    assert "not started by local-infrastructure-up" in second_down.splitlines()[0]  # zenml: nothing to stop
    assert run("status").splitlines()[0].endswith("  DOWN")  # not "DOWN (not started by this project)"
