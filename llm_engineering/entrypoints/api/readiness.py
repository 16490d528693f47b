"""The dependency probes behind `GET /ready`: one per dependency, single-flight, each under a short deadline.

A probe runs on a daemon thread of its own (never the default pool, never delaying the process's exit)
and at most one runs per dependency:
concurrent `/ready` calls share it, so a hung dependency holds one thread, not one per call. A call waits
for the running probe until its timeout, counted from the probe's start. Once a probe has failed, `/ready`
answers that failure at once while the next probe runs behind it, until one succeeds: a hung LLM is
reported not ready without making every readiness check wait for it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from llm_engineering.application.deadline import Deadline, within

if TYPE_CHECKING:
    from llm_engineering.entrypoints.api.dependencies import ServiceState

# The stores may open a folder or select a server on their first call; the LLM only has to say hello.
STORE_CHECK_TIMEOUT_S = 10.0
LLM_CHECK_TIMEOUT_S = 3.0

Check = dict[str, Any]


class DependencyProbe:
    """Checks one dependency with `probe` (raises when it is not ready), at most one check at a time."""

    def __init__(
        self, name: str, probe: Callable[[], Any], timeout_s: float, clock: Callable[[], float] = time.monotonic
    ):
        self.name = name
        self.timeout_s = timeout_s
        self._probe = probe
        self._clock = clock
        self._lock = threading.Lock()
        self._running: Future[Check] | None = None
        self._started = 0.0
        self._last_failure: Check | None = None

    def __repr__(self) -> str:
        return f"DependencyProbe({self.name!r}, timeout_s={self.timeout_s})"

    async def check(self) -> Check:
        """`{"ok": True, "latency_s": ...}` or `{"ok": False, "detail": ...}`, within `timeout_s` at most."""
        running, started, last_failure = self._start_unless_running()
        if last_failure is not None:
            return last_failure
        wait_s = max(0.0, self.timeout_s - (self._clock() - started))
        try:
            # Shielded: a caller that stops waiting leaves the probe to the others.
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(running)), timeout=wait_s)
        except TimeoutError:
            return {"ok": False, "detail": f"no answer within {self.timeout_s:g}s"}

    def _start_unless_running(self) -> tuple[Future[Check], float, Check | None]:
        with self._lock:
            if self._running is None or self._running.done():
                self._running = Future()
                self._started = self._clock()
                thread = threading.Thread(
                    target=self._run, args=(self._running,), name=f"ready-{self.name}", daemon=True
                )
                thread.start()
            return self._running, self._started, self._last_failure

    def _run(self, future: Future[Check]) -> None:
        future.set_result(self._probe_once())

    def _probe_once(self) -> Check:
        started = time.perf_counter()
        try:
            # The LLM client cuts its timeouts to this deadline, so the probe itself ends in time.
            with within(Deadline(self.timeout_s)):
                self._probe()
        except Exception as error:  # noqa: BLE001 - every failure is a "not ready" answer
            result: Check = {"ok": False, "detail": f"{type(error).__name__}: {error}"}
        else:
            result = {"ok": True, "latency_s": round(time.perf_counter() - started, 4)}
        with self._lock:
            self._last_failure = None if result["ok"] else result
        return result


def readiness_probes(state: ServiceState) -> dict[str, DependencyProbe]:
    """The probes of `/ready`, by the name its answer gives each: warehouse, vector store, LLM."""
    return {
        "warehouse": DependencyProbe(
            "warehouse",
            lambda: state.container.warehouse().ping(),  # type: ignore[attr-defined]
            STORE_CHECK_TIMEOUT_S,
        ),
        "vector_store": DependencyProbe(
            "vector_store",
            lambda: state.container.vector_store().ping(),  # type: ignore[attr-defined]
            STORE_CHECK_TIMEOUT_S,
        ),
        "llm": DependencyProbe("llm", lambda: state.container.llm().ping(), LLM_CHECK_TIMEOUT_S),
    }
