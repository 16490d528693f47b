"""Which unfinished pipeline runs are orphaned (their process is gone) and which must be left alone; the owner
records on disk; the cleanup's calls to ZenML, on a fake client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from llm_engineering.infrastructure import zenml_orphaned_runs as orphaned
from llm_engineering.infrastructure.zenml_orphaned_runs import (
    OwnerState,
    RunOwner,
    RunOwnerRecords,
    RunView,
    find_orphans,
    owned_run,
    owner_state,
    process_running,
    stale_records,
)
from tests.waiting import CEILING_S

HOST = "this-host"


def alive(pid: int, started_at: float) -> bool:
    return True


def gone(pid: int, started_at: float) -> bool:
    return False


def owner(name: str, host: str = HOST, pid: int = 4242) -> RunOwner:
    return RunOwner(name, host, pid, 1000.0)


# --- Liveness ------------------------------------------------------------------------------------------------
def test_this_process_is_running_and_a_reused_pid_is_not():
    me = RunOwner.current("run")
    assert me.pid == os.getpid() and me.hostname == socket.gethostname() and me.started_at > 0
    assert process_running(me.pid, me.started_at)
    # Same pid, another start time: the recorded process is gone and its pid went to a newer one.
    assert not process_running(me.pid, me.started_at - 3600)


def test_an_exited_process_is_gone():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = RunOwner.current("x").started_at  # any value: the pid no longer exists once reaped
    child.wait(timeout=30)
    assert not process_running(child.pid, started)


def test_a_killed_but_unreaped_process_is_gone():
    import psutil

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = psutil.Process(child.pid).create_time()
    assert process_running(child.pid, started)
    child.kill()  # not reaped yet: the pid stays in the table as a zombie
    deadline = time.monotonic() + CEILING_S
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert not process_running(child.pid, started)
    finally:
        child.wait(timeout=30)


def test_owner_state_needs_this_host_and_a_dead_process():
    assert owner_state(owner("r"), HOST, gone) is OwnerState.GONE
    assert owner_state(owner("r"), HOST, alive) is OwnerState.ALIVE
    # A pid recorded on another host says nothing about this one's processes.
    assert owner_state(owner("r", host="elsewhere"), HOST, gone) is OwnerState.OTHER_HOST


# --- The decision ------------------------------------------------------------------------------------------
def test_only_unfinished_local_runs_whose_recorded_process_is_gone_are_orphans():
    runs = [
        RunView("1", "killed", "running", "local"),
        RunView("2", "killed_while_starting", "initializing", "local"),
        RunView("3", "finished", "completed", "local"),
        RunView("4", "remote", "running", "sagemaker"),
        RunView("5", "no_record", "running", "local"),
        RunView("6", "other_host", "running", "local"),
        RunView("7", "unknown_stack", "running", None),
    ]
    owners = {
        name: owner(name)
        for name in ("killed", "killed_while_starting", "finished", "remote", "other_host", "unknown_stack")
    }
    owners["other_host"] = owner("other_host", host="laptop")

    orphans = find_orphans(runs, owners, HOST, gone)

    assert [orphan.run.name for orphan in orphans] == ["killed", "killed_while_starting"]
    assert find_orphans(runs, owners, HOST, alive) == []  # a live process: never marked


def test_the_reason_names_the_process_and_fits_zenml():
    orphan = find_orphans([RunView("1", "r", "running", "local")], {"r": owner("r")}, HOST, gone)[0]
    reason = orphan.reason()
    assert "pid 4242" in reason and HOST in reason and "running" in reason
    long = find_orphans([RunView("1", "r", "running", "local")], {"r": owner("r", host="h" * 300)}, "h" * 300, gone)
    assert len(long[0].reason()) <= orphaned.MAX_REASON_CHARS


def test_stale_records_are_finished_runs_of_gone_processes_only():
    owners = {"done": owner("done"), "starting": owner("starting", pid=1), "unfinished": owner("unfinished")}
    checks = {4242: False, 1: True}

    stale = stale_records(owners, {"unfinished"}, HOST, lambda pid, started: checks[pid])

    # "starting": its process is alive and ZenML may not have created the run yet.
    assert stale == ["done"]


# --- Records ---------------------------------------------------------------------------------------------------
def test_records_round_trip_with_odd_run_names_and_skip_unreadable_files(tmp_path: Path):
    records = RunOwnerRecords(tmp_path / "runs")
    assert records.all() == {}
    names = ["feature_engineering_run_2026_01_01", "a/b c:d", "a_b_c_d"]
    for name in names:
        records.write(owner(name))
    (tmp_path / "runs" / "broken.json").write_text("{not json")

    assert set(records.all()) == set(names)
    assert records.all()["a/b c:d"] == owner("a/b c:d")
    records.remove("a/b c:d")
    records.remove("never-written")
    assert set(records.all()) == {names[0], names[2]}


def test_owned_run_records_the_process_while_the_run_is_called(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    records = RunOwnerRecords(tmp_path)
    client = SimpleNamespace(zen_store=SimpleNamespace(url="sqlite:///store.db"))
    cleanups: list[Any] = []
    monkeypatch.setattr(orphaned, "zenml_client", lambda: client)
    monkeypatch.setattr(orphaned, "mark_orphaned_runs", lambda given, with_client: cleanups.append(with_client))

    with owned_run("ok", records):
        recorded = records.all()["ok"]
        assert recorded.pid == os.getpid() and recorded.store == "sqlite:///store.db"
    assert records.all() == {} and cleanups == [client]

    # A run that raised keeps its record: the next cleanup, once this process is gone, decides.
    with pytest.raises(RuntimeError), owned_run("boom", records):
        raise RuntimeError("step failed")
    assert set(records.all()) == {"boom"}


def test_owned_run_still_records_when_the_cleanup_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def no_server() -> Any:
        raise ConnectionError("ZenML server down")

    monkeypatch.setattr(orphaned, "zenml_client", no_server)
    records = RunOwnerRecords(tmp_path)

    with owned_run("run", records) as report:
        assert report is None and records.all()["run"].pid == os.getpid()


# --- On a fake ZenML client -------------------------------------------------------------------------------------
STORE = "sqlite:////tmp/zenml.db"


def _page(items: list[Any]) -> Any:
    return SimpleNamespace(items=items, index=1, total_pages=1)


def _run(run_id: str, name: str, status: str, flavor: str) -> Any:
    from zenml.enums import StackComponentType

    orchestrator = SimpleNamespace(flavor_name=flavor)
    stack = SimpleNamespace(components={StackComponentType.ORCHESTRATOR: [orchestrator]})
    return SimpleNamespace(id=run_id, name=name, status=status, stack=stack)


@dataclass
class FakeStore:
    url: str = STORE
    updates: list[tuple[str, Any, Any]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    def update_run_step(self, step_id: Any, update: Any) -> None:
        self.updates.append(("step", step_id, update))

    def update_run(self, run_id: Any, update: Any) -> None:
        if str(run_id) in self.refuse:
            raise RuntimeError("store refused")
        self.updates.append(("run", str(run_id), update))


class FakeClient:
    def __init__(self, runs: list[Any], steps: dict[str, list[Any]]) -> None:
        self.runs, self.steps, self.zen_store = runs, steps, FakeStore()

    def list_pipeline_runs(self, **kwargs: Any) -> Any:
        assert kwargs.get("in_progress") is True
        return _page(self.runs)

    def list_run_steps(self, pipeline_run_id: Any, **_: Any) -> Any:
        return _page(self.steps.get(str(pipeline_run_id), []))


def test_cleanup_fails_the_unfinished_steps_then_the_run_and_reports(tmp_path: Path):
    from zenml.enums import ExecutionStatus

    killed, remote = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"
    refused = "00000000-0000-0000-0000-000000000003"
    client = FakeClient(
        [
            _run(killed, "killed", "running", "local"),
            _run(remote, "remote", "running", "sagemaker"),
            _run(refused, "refused", "running", "local"),
        ],
        {
            killed: [
                SimpleNamespace(id="done-step", status=ExecutionStatus.COMPLETED),
                SimpleNamespace(id="running-step", status=ExecutionStatus.RUNNING),
            ]
        },
    )
    client.zen_store.refuse.add(refused)
    records = RunOwnerRecords(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    for name in ("killed", "remote", "refused", "finished_long_ago"):
        records.write(RunOwner(name, socket.gethostname(), dead.pid, 1.0, STORE))
    # A run of another ZenML store sharing this LOCAL_DATA_DIR: neither judged nor forgotten here.
    records.write(RunOwner("killed_elsewhere", socket.gethostname(), dead.pid, 1.0, "sqlite:////other.db"))

    report = orphaned.mark_orphaned_runs(records, client)

    assert report.marked == ["killed"] and list(report.not_marked) == ["refused"] and report.left_alone == 1
    kinds = [(kind, target) for kind, target, _ in client.zen_store.updates]
    assert kinds == [("step", "running-step"), ("run", killed)]
    run_update = client.zen_store.updates[-1][2]
    assert run_update.status == ExecutionStatus.FAILED and "Orphaned" in run_update.status_reason
    # The marked run's record and the finished run's record are gone; unfinished runs keep theirs.
    assert set(records.all()) == {"remote", "refused", "killed_elsewhere"}
    line = report.describe()
    assert "1 run(s) left unfinished by a killed process, marked failed: killed" in line
    assert "1 could not be marked" in line and "1 unfinished run(s)" in line
