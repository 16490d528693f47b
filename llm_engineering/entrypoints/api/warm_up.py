"""The service's warm-up: what `/ready` waits for before it says ready.

Loading the embedding model (and a cross-encoder reranker) takes from seconds to over a minute on a first
start, and the capability probes ask the LLM a few questions. The warm-up does all of it once, in order, on a
daemon thread of its own started with the app, so `/health` and `/ready` answer at once meanwhile: `/ready`
says `warming_up` and names the stages it waits for. Once it has ended, the first question costs what the
second does.

A required stage that fails (a model that does not load) keeps `/ready` at 503 naming it, and runs again behind
the next `/ready` call, as the dependency probes do; an optional one (the first search, the LLM probes) is only
logged: the request that needs it tries again, and `/ready`'s own checks report a store or LLM that is down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loguru import logger

from llm_engineering.application.deadline import Deadline, within

if TYPE_CHECKING:
    from llm_engineering.entrypoints.api.dependencies import ServiceState

# The query the warm-up embeds, reranks and searches with: any short text does.
WARM_UP_QUERY = "warm-up"


@dataclass(frozen=True)
class WarmUpStage:
    """One thing done before the service is ready; `required`: its failure keeps `/ready` at 503."""

    name: str
    run: Callable[[], object]
    required: bool = True


@dataclass(frozen=True)
class WarmUpStatus:
    """The stages not done yet (in order) and the failures of required ones (by stage)."""

    pending: tuple[str, ...] = ()
    failures: Mapping[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return not self.pending


class WarmUp:
    """Runs its stages in order, each until it succeeds once; thread-safe. No stages: nothing to wait for.

    `timeout_s` bounds each run's LLM calls (the probes), as a request's deadline bounds a request's; `stop()`
    cancels a run still waiting on the LLM.
    """

    def __init__(self, stages: Sequence[WarmUpStage] = (), timeout_s: float | None = None):
        names = [stage.name for stage in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"warm-up stage names must be unique: {names}")
        self._stages = tuple(stages)
        self._timeout_s = timeout_s
        self._done: set[str] = set()
        self._failures: dict[str, str] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._deadline: Deadline | None = None
        self._stopped = False
        self.seconds: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"WarmUp(stages={[stage.name for stage in self._stages]}, status={self.status()})"

    def status(self) -> WarmUpStatus:
        with self._lock:
            pending = tuple(stage.name for stage in self._stages if stage.name not in self._done)
            return WarmUpStatus(pending, dict(self._failures))

    def start(self) -> bool:
        """Run the stages not done yet on a daemon thread, unless a run is under way, nothing is left or the
        warm-up was stopped. True when a run started."""
        with self._lock:
            if self._stopped or (self._thread is not None and self._thread.is_alive()):
                return False
            if all(stage.name in self._done for stage in self._stages):
                return False
            self._deadline = Deadline(self._timeout_s)
            # Not the default pool: a long model load must not hold a thread that /retrieve and /ready use.
            self._thread = threading.Thread(target=self.run, args=(self._deadline,), name="api-warm-up", daemon=True)
            self._thread.start()
            return True

    def stop(self, reason: str = "the service is stopping") -> None:
        """No more runs; the one under way is cancelled at its next LLM call (a model load runs to its end)."""
        with self._lock:
            self._stopped = True
            deadline = self._deadline
        if deadline is not None:
            deadline.cancel(reason)

    def wait(self, timeout_s: float | None = None) -> WarmUpStatus:
        """Wait for the run under way (if any), at most `timeout_s`; the status then."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return self.status()

    def run(self, deadline: Deadline) -> WarmUpStatus:
        """Run the stages not done yet, in this thread, within `deadline`; the status at the end."""
        started = time.perf_counter()
        for stage in self._stages:
            if stage.name in self._done:
                continue
            if deadline.cancelled:
                break
            begun = time.perf_counter()
            try:
                with within(deadline):
                    stage.run()
            except Exception as error:  # noqa: BLE001 - reported by /ready (required) or by the request that needs it
                if deadline.cancelled:
                    break  # the service is stopping: not the stage's failure
                detail = f"{type(error).__name__}: {error}"
                if stage.required:
                    logger.warning("Warm-up: {} failed: {}", stage.name, detail)
                    with self._lock:
                        self._failures[stage.name] = detail
                    continue
                logger.warning(
                    "Warm-up: {} failed ({}); the first request that needs it tries again", stage.name, detail
                )
            with self._lock:
                self._done.add(stage.name)
                self._failures.pop(stage.name, None)
                self.seconds[stage.name] = round(time.perf_counter() - begun, 3)
        status = self.status()
        if status.finished and self._stages:
            stages = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.seconds.items())
            logger.info("RAG service warmed up in {:.1f}s ({})", time.perf_counter() - started, stages)
        return status


def warm_up_stages(state: ServiceState) -> list[WarmUpStage]:
    """The API's warm-up: load the embedder, load the reranker (a cross-encoder loads its model), run one search
    (opens the vector store's collections), then decide whether self-query and expansion can run on the LLM
    (verdicts cached per model: a restart on the same model asks the LLM nothing)."""

    def load_embedder() -> None:
        state.container.embedder().embed([WARM_UP_QUERY])

    def load_reranker() -> None:
        reranker = state.container.reranker()
        reranker.score(WARM_UP_QUERY, [WARM_UP_QUERY])
        logger.info("Reranker ready: {}", reranker.name)

    def first_search() -> None:
        retriever = state.container.retriever(use_llm=False)
        retriever.search_with_trace(WARM_UP_QUERY, k=1, expand_to_n_queries=1)

    def probe_capabilities() -> None:
        for step, reason in state.container.retriever().probe_capabilities().items():
            logger.info("{}: {}", step, reason)

    return [
        WarmUpStage("embedder", load_embedder),
        WarmUpStage("reranker", load_reranker),
        WarmUpStage("search", first_search, required=False),
        WarmUpStage("capability probes", probe_capabilities, required=False),
    ]
