"""Can the configured model do a structured retrieval step (self-query, query expansion)?

Each step has a mode: `on` (always try), `off` (never call the LLM for it) or `auto`: a probe, one short
LLM call with a known right answer, decides for the life of the process. A model that fails the probe
costs no LLM call per request for that step, and the request's trace says why it was skipped. Base
models as small as the local 270M one fail these probes; instruct models pass them.

A probe has its own time limit (inside the caller's deadline): a model that cannot answer it in time
would slow every request down, and fails. An LLM that cannot be reached is no verdict: the step is
skipped and probed again after `retry_after_s`. Verdicts are kept per model in a `VerdictStore`
(`ProbeMemory`), so a restart on the same model asks nothing; re-probing is forced with `reprobe`. When the
served model changes under a running process (`model`, asked per decision), the new model gets its own
decision: one model's verdict never stands for another's.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from loguru import logger

from llm_engineering.application.deadline import bounded, current_deadline, holding
from llm_engineering.application.errors import LLMError, LLMTimeoutError, RequestCancelledError

CapabilityMode = Literal["auto", "on", "off"]
# Seconds one probe call may take, and how long a probe without a verdict is not tried again.
PROBE_TIMEOUT_S = 20.0
RETRY_AFTER_S = 30.0


@dataclass(frozen=True)
class ProbeResult:
    passed: bool
    detail: str


@dataclass(frozen=True)
class Decision:
    enabled: bool
    reason: str


@dataclass(frozen=True)
class Verdict:
    """A remembered probe result: which probe (`probe_id`) gave it, and when (ISO date)."""

    probe_id: str
    result: ProbeResult
    probed_at: str


class VerdictStore(Protocol):
    """Probe verdicts kept across processes, by model key and step."""

    def load(self, model_key: str, step: str) -> Verdict | None: ...

    def save(self, model_key: str, step: str, verdict: Verdict) -> None: ...


class ProbeMemory:
    """The verdicts of the LLM's model: a `VerdictStore` and the model's key, worked out once per model on
    first use (`model_key` may ask the LLM server, and raises `LLMError` when it cannot; `model` names the
    model asked now, when it can change). `reprobe` ignores the verdicts stored so far (new ones replace
    them)."""

    def __init__(
        self,
        store: VerdictStore,
        model_key: Callable[[], str],
        reprobe: bool = False,
        model: Callable[[], str] | None = None,
    ):
        self.store = store
        self._model_key = model_key
        self.reprobe = reprobe
        self._model = model or _one_model
        self._keys: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def has_key(self) -> bool:
        """Whether the current model's key was worked out already."""
        return self._model() in self._keys

    def key(self) -> str:
        with holding(self._lock):
            model = self._model()
            if model not in self._keys:
                self._keys[model] = self._model_key()
            return self._keys[model]

    def recall(self, step: str, probe_id: str) -> Verdict | None:
        """The stored verdict of this probe on this model, or None (none stored, another probe's, `reprobe`)."""
        if self.reprobe:
            return None
        verdict = self.store.load(self.key(), step)
        return verdict if verdict is not None and verdict.probe_id == probe_id else None

    def remember(self, step: str, probe_id: str, result: ProbeResult) -> None:
        self.store.save(self.key(), step, Verdict(probe_id, result, time.strftime("%Y-%m-%d")))


def _one_model() -> str:
    return ""


def probe_id(*parts: object) -> str:
    """A short id of what a probe sends (prompt, parameters): a verdict holds only for the probe that gave it."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


class _NoVerdict(Exception):
    """A probe that could not judge the model (its reason is the message)."""


class Capability:
    """The on/off decision for one step, probed at most once (thread-safe) when the mode is `auto`.

    `probe_key` identifies the probe (see `probe_id`); with `memory`, a verdict stored for this model and
    probe is used instead of probing, and a new verdict is stored. `model` names the model asked now (the
    served model can change while the process runs); each model gets its own decision.
    """

    def __init__(
        self,
        step: str,
        mode: CapabilityMode,
        probe: Callable[[], ProbeResult] | None,
        *,
        probe_key: str = "",
        memory: ProbeMemory | None = None,
        probe_timeout_s: float = PROBE_TIMEOUT_S,
        retry_after_s: float = RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
        model: Callable[[], str] | None = None,
    ):
        if mode not in ("auto", "on", "off"):
            raise ValueError(f"{step}: mode must be auto, on or off, got {mode!r}")
        if probe_timeout_s <= 0 or retry_after_s < 0:
            raise ValueError(f"{step}: probe_timeout_s must be > 0 and retry_after_s >= 0")
        self.step = step
        self.mode = mode
        self._probe = probe
        self.probe_key = probe_key
        self.memory = memory
        self.probe_timeout_s = probe_timeout_s
        self.retry_after_s = retry_after_s
        self._clock = clock
        self._model = model or _one_model
        # Per model: its decision; after a probe without a verdict, the skip reason and when to probe again.
        self._decisions: dict[str, Decision] = {}
        self._no_verdicts: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def decide(self) -> Decision:
        if self.mode == "on":
            return Decision(True, "enabled by configuration")
        if self.mode == "off":
            return Decision(False, "disabled by configuration")
        if self._probe is None:
            return Decision(False, "no LLM configured")
        # Another request may be probing: wait for its verdict, but no longer than this caller's deadline.
        with holding(self._lock):
            model = self._model()
            if model in self._decisions:
                return self._decisions[model]
            no_verdict = self._no_verdicts.get(model)
            if no_verdict is not None and self._clock() < no_verdict[1]:
                return Decision(False, no_verdict[0])
            try:
                result, source = self._recall_or_probe()
            except _NoVerdict as error:
                return self._without_verdict(model, str(error))
            if not source and self.memory is not None:
                self.memory.remember(self.step, self.probe_key, result)
            self._decisions[model] = self._verdict(result, source)
            return self._decisions[model]

    def _recall_or_probe(self) -> tuple[ProbeResult, str]:
        """The stored verdict and "cached <date>", else a probe's result and "", within the probe's time
        limit: a probe that runs out of it fails. Raises `_NoVerdict` when the LLM cannot be reached, and
        the caller's own deadline or cancellation as it is."""
        outer, bound = current_deadline(), None
        try:
            with bounded(self.probe_timeout_s) as bound:
                # The model's key may ask the server (its model list): that counts against the probe's time.
                remembered = self.memory.recall(self.step, self.probe_key) if self.memory is not None else None
                if remembered is not None:
                    return remembered.result, f"cached {remembered.probed_at}"
                return self._probe(), ""
        except (LLMError, RequestCancelledError) as error:
            if outer is not None and (outer.cancelled or outer.expired):
                raise  # the caller's own deadline ended: not the probe's to report
            if not ((bound is not None and bound.expired) or isinstance(error, LLMTimeoutError)):
                if isinstance(error, LLMError):
                    raise _NoVerdict(f"capability probe failed to reach the LLM: {error}") from error
                raise
            if self.memory is not None and not self.memory.has_key:
                raise _NoVerdict(f"the LLM server did not answer within {self.probe_timeout_s:g}s") from error
            # A step this slow would hold up every request: a failed probe, kept like any other.
            return ProbeResult(False, f"no answer within {self.probe_timeout_s:g}s: too slow to run per request"), ""

    def _without_verdict(self, model: str, reason: str) -> Decision:
        # Not a verdict on the model (unreachable): skip the step for a while, then probe again.
        logger.warning("{}: {}; probing again in {:g}s", self.step, reason, self.retry_after_s)
        self._no_verdicts[model] = (reason, self._clock() + self.retry_after_s)
        return Decision(False, reason)

    def _verdict(self, result: ProbeResult, source: str = "") -> Decision:
        detail = f"{result.detail}; {source}" if source else result.detail
        if result.passed:
            logger.info("{}: the model passed the capability probe ({})", self.step, detail)
            return Decision(True, f"model passed the capability probe ({detail})")
        logger.info("{}: skipped, the model failed the capability probe ({})", self.step, detail)
        return Decision(False, f"model failed the capability probe ({detail})")

    @property
    def probed(self) -> bool:
        """Whether the current model has a decision."""
        return self._model() in self._decisions
