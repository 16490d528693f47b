"""A real pipeline run killed with -9 mid-step is left "running" by ZenML; the cleanup every runner does on
start leaves it alone while its process lives, and marks it failed, with the reason, once the process is gone.
The run is started in a subprocess on this session's throwaway ZenML store (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _wait_for(path: Path, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            pytest.fail(f"the pipeline process exited ({process.returncode}) before its step started:\n{output}")
        if time.monotonic() > deadline:
            pytest.fail(f"the step did not start within {timeout_s} s")
        time.sleep(0.2)


def test_a_run_killed_mid_step_is_marked_failed_once_its_process_is_gone(tmp_path: Path):
    from zenml.client import Client
    from zenml.enums import ExecutionStatus

    from llm_engineering.infrastructure.zenml_orphaned_runs import RECORDS_FOLDER, RunOwnerRecords, mark_orphaned_runs

    local_data = tmp_path / "local"
    records = RunOwnerRecords(local_data / RECORDS_FOLDER)
    run_name = f"sleeping_pipeline_killed_{os.getpid()}_{int(time.time())}"
    marker, log = tmp_path / "step-started", tmp_path / "pipeline.log"
    with log.open("w") as output:  # the child keeps its own copy of the file
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.fixtures.sleeping_pipeline", run_name, str(marker), "600"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "LOCAL_DATA_DIR": str(local_data)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(marker, process, log, timeout_s=240)
        assert records.all()[run_name].pid == process.pid

        # While its process lives, the run is left alone.
        report = mark_orphaned_runs(records)
        assert run_name not in report.marked and report.left_alone >= 1
        assert Client().get_pipeline_run(run_name).status == ExecutionStatus.RUNNING
    finally:
        process.kill()
        process.wait(timeout=30)

    run = Client().get_pipeline_run(run_name)
    assert run.status == ExecutionStatus.RUNNING  # what ZenML alone leaves behind

    report = mark_orphaned_runs(records)

    assert run_name in report.marked
    run = Client().get_pipeline_run(run_name)
    assert run.status == ExecutionStatus.FAILED and run.end_time is not None
    reason = run.get_body().status_reason or ""
    assert reason.startswith("Orphaned") and f"pid {process.pid}" in reason
    assert run.steps["sleep_step"].status == ExecutionStatus.FAILED
    assert run_name not in records.all()
    # Idempotent: nothing left to mark.
    assert run_name not in mark_orphaned_runs(records).marked
