"""Background jobs of the web UI: a crawl runs `digital_data_etl` then `feature_engineering` for one author in
a thread, one crawl at a time; the last jobs are kept in memory for `/ui/api/jobs`.

The pipelines are run by an injected `PipelineRunner` (the port, in `application.operations.pipeline_runs`; on
ZenML as `bootstrap.pipeline_runs` builds it from the pipeline catalogue the app factory was given; fakes in unit
tests).
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from loguru import logger

from llm_engineering.application.operations.pipeline_runs import PipelineRunner, RunResult
from llm_engineering.entrypoints.ui.errors import JobAlreadyRunning, PipelineRunFailed

JobStatus = Literal["queued", "running", "succeeded", "failed"]
CRAWL = "crawl"
# Run statuses that count as success (ZenML: `completed`, or `cached` when every step was).
SUCCESSFUL_RUN_STATUSES = ("completed", "cached")
MAX_KEPT_JOBS = 50


class NoPipelines:
    """The `PipelineRunner` of an app built without a pipeline catalogue: every run fails, saying why."""

    def __call__(self, pipeline: str, parameters: Mapping[str, Any], run_name: str) -> RunResult:
        raise PipelineRunFailed(
            pipeline,
            run_name,
            "this service has no pipelines to run: it was built without a pipeline catalogue "
            "(`create_app(pipelines=...)`; `uvicorn tools.ml_service:app` passes the project's)",
        )


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Job:
    """One UI job; `as_dict()` is its JSON form (the `<job>` of the UI API)."""

    kind: str
    author_full_name: str
    links: list[str]
    crawlers: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: JobStatus = "queued"
    stage: str | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    created_at: datetime = field(default_factory=utc_now)
    finished_at: datetime | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "author_full_name": self.author_full_name,
            "links": list(self.links),
            "crawlers": dict(self.crawlers),
            "status": self.status,
            "stage": self.stage,
            "runs": [dict(run) for run in self.runs],
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def crawl_stages(author_full_name: str, links: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """(pipeline, parameters) of a crawl: the author's links into the warehouse, then their features."""
    return [
        ("digital_data_etl", {"user_full_name": author_full_name, "links": list(links)}),
        ("feature_engineering", {"author_full_names": [author_full_name]}),
    ]


class JobRunner:
    """Starts jobs in daemon threads and keeps the last `max_jobs` of them; thread-safe.

    `start_thread(target, job_id)` replaces starting a daemon thread (tests may run the job inline).
    """

    def __init__(
        self,
        run_pipeline: PipelineRunner,
        max_jobs: int = MAX_KEPT_JOBS,
        start_thread: Callable[[Callable[[], None], str], None] | None = None,
    ):
        self.run_pipeline = run_pipeline
        self._jobs: deque[Job] = deque(maxlen=max_jobs)
        self._lock = threading.Lock()
        self._start_thread = start_thread or _daemon_thread

    # --- reading -----------------------------------------------------------------------------------
    def jobs(self) -> list[dict[str, Any]]:
        """Every kept job, newest first."""
        with self._lock:
            return [job.as_dict() for job in reversed(self._jobs)]

    def job(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._find(job_id)
            return found.as_dict() if found else None

    def wait(self, job_id: str, timeout_s: float | None = None) -> dict[str, Any] | None:
        """The job once it ended (or as it is when `timeout_s` passed first); None for an unknown id."""
        with self._lock:
            found = self._find(job_id)
        if found is None:
            return None
        found.done.wait(timeout_s)
        return self.job(job_id)

    def _find(self, job_id: str) -> Job | None:
        return next((job for job in self._jobs if job.id == job_id), None)

    # --- starting ----------------------------------------------------------------------------------
    def start_crawl(
        self, author_full_name: str, links: Sequence[str], crawlers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Queue a crawl of `links` for the author and start it; raises JobAlreadyRunning while one runs."""
        job = Job(kind=CRAWL, author_full_name=author_full_name, links=list(links), crawlers=dict(crawlers or {}))
        with self._lock:
            running = next((other for other in self._jobs if other.kind == CRAWL and other.active), None)
            if running is not None:
                raise JobAlreadyRunning(CRAWL, running.id)
            self._jobs.append(job)
            snapshot = job.as_dict()
        try:
            self._start_thread(lambda: self._guarded_run(job, crawl_stages(job.author_full_name, job.links)), job.id)
        except Exception as error:  # e.g. no thread could be started: the job must not stay queued
            self._finish(job, f"could not start the job: {error}")
            raise
        return snapshot

    def _guarded_run(self, job: Job, stages: list[tuple[str, dict[str, Any]]]) -> None:
        try:
            self._run(job, stages)
        finally:
            if not job.done.is_set():  # e.g. SystemExit in the thread: never leave a crawl "running" forever
                self._finish(job, f"{job.stage or 'job'}: interrupted")

    def _run(self, job: Job, stages: list[tuple[str, dict[str, Any]]]) -> None:
        with self._lock:
            job.status = "running"
        for pipeline, parameters in stages:
            run_name = f"{pipeline}_ui_{utc_now():%Y_%m_%d_%H_%M_%S}_{job.id[:8]}"
            run = {"pipeline": pipeline, "run_name": run_name, "status": "running", "dashboard_url": None}
            with self._lock:
                job.stage = pipeline
                job.runs.append(run)
            logger.info("UI job {}: running {} as {}", job.id, pipeline, run_name)
            try:
                result = self.run_pipeline(pipeline, parameters, run_name)
                if result.status not in SUCCESSFUL_RUN_STATUSES:
                    raise PipelineRunFailed(pipeline, run_name, f"ended {result.status}", result.dashboard_url)
            except Exception as error:  # noqa: BLE001 - any failure ends the job, reported on it
                logger.warning("UI job {}: {} failed: {}", job.id, pipeline, error)
                with self._lock:
                    run["status"] = "failed"
                    run["dashboard_url"] = getattr(error, "dashboard_url", None)
                self._finish(job, f"{pipeline}: {_describe(error)}")
                return
            with self._lock:
                run.update(status=result.status, dashboard_url=result.dashboard_url)
                if result.summary is not None:
                    run["summary"] = dict(result.summary)
        with self._lock:
            job.stage = None
        self._finish(job, None)

    def _finish(self, job: Job, error: str | None) -> None:
        with self._lock:
            job.status = "failed" if error else "succeeded"
            job.error = error
            job.finished_at = utc_now()
        job.done.set()
        logger.info("UI job {} {}", job.id, job.status)


def _describe(error: BaseException) -> str:
    if isinstance(error, PipelineRunFailed):
        return error.reason[:500]
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:500] if text else type(error).__name__


def _daemon_thread(target: Callable[[], None], job_id: str) -> None:
    # Daemon: a crawl in progress does not keep a stopping service alive.
    threading.Thread(target=target, name=f"ui-job-{job_id[:8]}", daemon=True).start()
