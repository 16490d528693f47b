"""Pipeline runs left unfinished by a process that died (kill -9, an OOM kill, a crash) are marked failed.

ZenML's local orchestrator runs a pipeline inside the process that called it and records nothing about that
process, so a run whose process was killed shows "running" forever. Every runner of this project (tools.run,
continuous training, the quickstart, the web UI's job runner) starts its runs inside `owned_run(run_name)`
(`bootstrap.owned_run`, on the records under LOCAL_DATA_DIR):

- first, unfinished runs whose recorded process is gone from this host are marked failed, with the reason;
- then this process is recorded as the run's owner (ZenML store, host, pid, process start time) in a small
  JSON file under LOCAL_DATA_DIR/zenml_runs/, removed again when the run returns.

A run is marked only when all of these hold: it is unfinished, its stack's orchestrator is the local one, an
owner record for this ZenML store names it, the record was written on this host, and that process no longer
exists (or its pid now belongs to a process started later). Runs of remote orchestrators, of other hosts, or
started without a record (a pipeline called from a notebook) are left alone: a live run is never marked.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import os
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loguru import logger

RECORDS_FOLDER = "zenml_runs"
LOCAL_ORCHESTRATOR_FLAVOR = "local"
# Statuses of a run that a live orchestrator would still move on; a finished run is never touched.
UNFINISHED_STATUSES = frozenset({"initializing", "provisioning", "queued", "running", "resuming"})
# Process start times read back from the kernel differ from the recorded ones by clock-tick rounding.
START_TIME_TOLERANCE_S = 1.0
# ZenML's limit on a run's status_reason.
MAX_REASON_CHARS = 255

ProcessCheck = Callable[[int, float], bool]


# --- Who runs a run ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunOwner:
    """The process that runs pipeline run `run_name` of ZenML store `store` (its URL): the process's host,
    pid and start time (epoch seconds)."""

    run_name: str
    hostname: str
    pid: int
    started_at: float
    store: str = ""

    @classmethod
    def current(cls, run_name: str, store: str = "") -> RunOwner:
        """This process, as the owner of `run_name` in `store`."""
        pid = os.getpid()
        return cls(run_name, socket.gethostname(), pid, _process_start_time(pid) or 0.0, store)


class OwnerState(enum.Enum):
    ALIVE = "alive"
    GONE = "gone"
    OTHER_HOST = "on another host"


def process_running(pid: int, started_at: float) -> bool:
    """Whether process `pid`, started at `started_at`, still runs on this host. A zombie counts as gone; a pid
    held by a process started at another time is a reused pid, so the recorded process is gone. A process we
    may not inspect counts as running (never mark a live run)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return abs(process.create_time() - started_at) <= START_TIME_TOLERANCE_S
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def owner_state(owner: RunOwner, hostname: str, is_running: ProcessCheck = process_running) -> OwnerState:
    """Whether the owner process of a run is alive, gone, or on another host (where its pid means nothing)."""
    if owner.hostname != hostname:
        return OwnerState.OTHER_HOST
    return OwnerState.ALIVE if is_running(owner.pid, owner.started_at) else OwnerState.GONE


def _process_start_time(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


# --- Owner records on disk ------------------------------------------------------------------------------------
class RunOwnerRecords:
    """One JSON file per run under `folder`, named after the run (run names are unique in a ZenML project)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    @classmethod
    def under(cls, local_data_dir: Path) -> RunOwnerRecords:
        """The records under `local_data_dir`/zenml_runs (LOCAL_DATA_DIR: `bootstrap.run_owner_records()`)."""
        return cls(Path(local_data_dir) / RECORDS_FOLDER)

    def path(self, run_name: str) -> Path:
        # Readable and safe as a file name; the hash keeps names that differ only in odd characters apart.
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", run_name)[:100]
        return self.folder / f"{safe}-{hashlib.sha1(run_name.encode()).hexdigest()[:10]}.json"

    def write(self, owner: RunOwner) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(owner.run_name)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(owner)), encoding="utf-8")
        temporary.replace(path)  # a reader never sees half a record

    def remove(self, run_name: str) -> None:
        self.path(run_name).unlink(missing_ok=True)

    def all(self, store: str | None = None) -> dict[str, RunOwner]:
        """Every readable record (of ZenML store `store` when given), by run name; unreadable files are
        skipped (and logged)."""
        owners: dict[str, RunOwner] = {}
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                owner = RunOwner(
                    str(data["run_name"]),
                    str(data["hostname"]),
                    int(data["pid"]),
                    float(data["started_at"]),
                    str(data.get("store", "")),
                )
            except (OSError, ValueError, KeyError, TypeError) as error:
                logger.warning("Ignoring the unreadable run owner record {}: {}", path, error)
                continue
            if store is None or owner.store == store:
                owners[owner.run_name] = owner
        return owners


# --- The decision -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunView:
    """What the decision needs from a ZenML pipeline run."""

    id: str
    name: str
    status: str
    orchestrator_flavor: str | None


@dataclass(frozen=True)
class Orphan:
    """An unfinished run whose owner process is gone."""

    run: RunView
    owner: RunOwner

    def reason(self, now: datetime | None = None) -> str:
        when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
        text = (
            f"Orphaned: the process that ran it (pid {self.owner.pid} on {self.owner.hostname}) is gone, killed or "
            f"crashed while the run was {self.run.status}; marked failed by llm-twin at {when}."
        )
        return text[:MAX_REASON_CHARS]


def find_orphans(
    runs: Iterable[RunView],
    owners: Mapping[str, RunOwner],
    hostname: str,
    is_running: ProcessCheck = process_running,
) -> list[Orphan]:
    """The unfinished local-orchestrator runs whose recorded owner process is gone from `hostname`."""
    orphans = []
    for run in runs:
        owner = owners.get(run.name)
        if run.status not in UNFINISHED_STATUSES or run.orchestrator_flavor != LOCAL_ORCHESTRATOR_FLAVOR:
            continue  # finished, or run by an orchestrator whose process is not ours to judge
        if owner is not None and owner_state(owner, hostname, is_running) is OwnerState.GONE:
            orphans.append(Orphan(run, owner))
    return orphans


def stale_records(
    owners: Mapping[str, RunOwner],
    unfinished_names: set[str],
    hostname: str,
    is_running: ProcessCheck = process_running,
) -> list[str]:
    """Records that can go: their run is not unfinished and their process is gone. A record whose process
    is alive may belong to a run ZenML has not created yet, so it stays."""
    return [
        name
        for name, owner in owners.items()
        if name not in unfinished_names and owner_state(owner, hostname, is_running) is OwnerState.GONE
    ]


# --- On ZenML -------------------------------------------------------------------------------------------------
@dataclass
class OrphanReport:
    """What a cleanup found: runs marked failed, runs it could not mark (name -> error), unfinished runs
    left alone because their process is alive or unknown here."""

    marked: list[str] = field(default_factory=list)
    not_marked: dict[str, str] = field(default_factory=dict)
    left_alone: int = 0

    def describe(self) -> str:
        """One line for the status command."""
        if self.marked:
            names = ", ".join(self.marked)
            text = f"{len(self.marked)} run(s) left unfinished by a killed process, marked failed: {names}"
        else:
            text = "no run left unfinished by a killed process"
        if self.not_marked:
            text += f"; {len(self.not_marked)} could not be marked ({'; '.join(self.not_marked.values())})"
        if self.left_alone:
            text += f"; {self.left_alone} unfinished run(s) with a live or unknown process left alone"
        return text


def mark_orphaned_runs(records: RunOwnerRecords, client: Any | None = None) -> OrphanReport:
    """Mark failed (steps and run, with the reason) every unfinished run of the local orchestrator whose owner
    process is gone from this host; forget records nobody needs any more. Only records of the client's ZenML
    store are read: the same LOCAL_DATA_DIR may serve several stores (tests, a second project). Returns what
    it did."""
    client = client or zenml_client()
    hostname = socket.gethostname()
    runs = unfinished_runs(client)
    owners = records.all(store=client.zen_store.url)
    report = OrphanReport()
    orphans = find_orphans(runs, owners, hostname)
    for orphan in orphans:
        try:
            mark_run_failed(client, orphan.run.id, orphan.reason())
        except Exception as error:  # noqa: BLE001 - one run that cannot be updated must not stop the others
            report.not_marked[orphan.run.name] = f"{orphan.run.name}: {type(error).__name__}: {error}"
            continue
        records.remove(orphan.run.name)
        report.marked.append(orphan.run.name)
        logger.warning("Pipeline run {} marked failed: {}", orphan.run.name, orphan.reason())
    report.left_alone = len(runs) - len(orphans)
    for name in stale_records(owners, {run.name for run in runs}, hostname):
        records.remove(name)
    return report


def unfinished_runs(client: Any) -> list[RunView]:
    """The ZenML runs still in progress, as `RunView`s."""
    from zenml.utils.pagination_utils import depaginate

    views = []
    for run in depaginate(client.list_pipeline_runs, in_progress=True):
        status = str(getattr(run.status, "value", run.status))
        if status in UNFINISHED_STATUSES:
            views.append(RunView(str(run.id), run.name, status, _orchestrator_flavor(run)))
    return views


def _orchestrator_flavor(run: Any) -> str | None:
    try:
        from zenml.enums import StackComponentType

        stack = run.stack
        orchestrators = stack.components.get(StackComponentType.ORCHESTRATOR, []) if stack is not None else []
        return orchestrators[0].flavor_name if orchestrators else None
    except Exception as error:  # noqa: BLE001 - a deleted stack or component: not ours to judge
        logger.debug("No orchestrator for run {}: {}", getattr(run, "name", run), error)
        return None


def mark_run_failed(client: Any, run_id: str, reason: str) -> None:
    """Fail the run's unfinished steps, then the run itself with `reason` (shown in the dashboard)."""
    from uuid import UUID

    from zenml.enums import ExecutionStatus
    from zenml.models import PipelineRunUpdate, StepRunUpdate
    from zenml.utils.pagination_utils import depaginate

    now = datetime.now(UTC)
    for step in depaginate(client.list_run_steps, pipeline_run_id=UUID(run_id)):
        if not ExecutionStatus(step.status).is_finished:
            client.zen_store.update_run_step(step.id, StepRunUpdate(status=ExecutionStatus.FAILED, end_time=now))
    client.zen_store.update_run(UUID(run_id), PipelineRunUpdate(status=ExecutionStatus.FAILED, status_reason=reason))


def zenml_client() -> Any:
    """The ZenML client of the active configuration."""
    from zenml.client import Client

    return Client()


# --- For runners ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def owned_run(run_name: str, records: RunOwnerRecords) -> Iterator[OrphanReport | None]:
    """Around the call of a pipeline run named `run_name`: first mark orphaned runs failed, then record this
    process as the run's owner until the call returns. Yields the cleanup's report (None if it failed)."""
    report, store = None, ""
    try:
        client = zenml_client()
        store = client.zen_store.url
        report = mark_orphaned_runs(records, client)
    except Exception as error:  # noqa: BLE001 - a cleanup must never stop a new run (e.g. a ZenML server down)
        logger.warning("Could not check for orphaned pipeline runs: {}", error)
    records.write(RunOwner.current(run_name, store))
    yield report
    # Reached only when the call returned. After an exception the record stays: ZenML may have left the run
    # unfinished, and once this process is gone the next cleanup marks it (or forgets the record).
    records.remove(run_name)
