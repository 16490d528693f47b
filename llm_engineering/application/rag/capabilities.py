"""Can the configured model do a structured retrieval step (self-query, query expansion)?

Each step has a mode: `on` (always try), `off` (never call the LLM for it) or `auto`: a one-time probe
with questions whose right answers are known decides for the life of the process. A model that fails
the probe costs no LLM call per request for that step, and the request's trace says why it was skipped.
Base models as small as the local 270M one fail these probes; instruct models pass them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from loguru import logger

from llm_engineering.application.deadline import holding
from llm_engineering.application.errors import LLMError

CapabilityMode = Literal["auto", "on", "off"]


@dataclass(frozen=True)
class ProbeResult:
    passed: bool
    detail: str


@dataclass(frozen=True)
class Decision:
    enabled: bool
    reason: str


class Capability:
    """The on/off decision for one step, probed at most once (thread-safe) when the mode is `auto`."""

    def __init__(self, step: str, mode: CapabilityMode, probe: Callable[[], ProbeResult] | None):
        if mode not in ("auto", "on", "off"):
            raise ValueError(f"{step}: mode must be auto, on or off, got {mode!r}")
        self.step = step
        self.mode = mode
        self._probe = probe
        self._decision: Decision | None = None
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
            if self._decision is not None:
                return self._decision
            try:
                result = self._probe()
            except LLMError as error:
                # Not a verdict on the model: skip the step this time and probe again on the next request.
                logger.warning("{} capability probe could not reach the LLM: {}", self.step, error)
                return Decision(False, f"capability probe failed to reach the LLM: {error}")
            self._decision = self._verdict(result)
            return self._decision

    def _verdict(self, result: ProbeResult) -> Decision:
        if result.passed:
            logger.info("{}: the model passed the capability probe ({})", self.step, result.detail)
            return Decision(True, f"model passed the capability probe ({result.detail})")
        logger.info("{}: skipped, the model failed the capability probe ({})", self.step, result.detail)
        return Decision(False, f"model failed the capability probe ({result.detail})")

    @property
    def probed(self) -> bool:
        return self._decision is not None
