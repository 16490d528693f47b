"""Retries with exponential backoff and jitter for retryable LLM errors.

Only failures before the server accepted the work are retryable (see `LLMError.retryable`); a retry is
never started when the caller's deadline (`application.deadline`) leaves no time for its wait.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

from loguru import logger

from llm_engineering.application.deadline import current_deadline, pause
from llm_engineering.application.errors import LLMError

T = TypeVar("T")
Y = TypeVar("Y")


@dataclass(frozen=True)
class RetryPolicy:
    """`max_retries` extra attempts after the first; the n-th wait is `base_delay_s * 2**n` (capped), +-jitter."""

    max_retries: int = 2
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("delays must be >= 0")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        raw = min(self.max_delay_s, self.base_delay_s * (2**attempt))
        return max(0.0, raw * (1 + random.uniform(-self.jitter, self.jitter)))

    def call(self, operation: Callable[[], T], sleep: Callable[[float], None] = pause) -> T:
        """Run `operation`, retrying retryable `LLMError`s; the last error propagates unchanged."""
        attempt = 0
        while True:
            try:
                return operation()
            except LLMError as error:
                wait = self.delay(attempt)
                if not self._worth_retrying(error, attempt, wait):
                    raise
                logger.warning(
                    "LLM call failed ({}); retry {}/{} in {:.2f}s", error, attempt + 1, self.max_retries, wait
                )
                sleep(wait)
                attempt += 1

    def stream(
        self, operation: Callable[[], Generator[Y, None, T]], sleep: Callable[[float], None] = pause
    ) -> Generator[Y, None, T]:
        """The items and return value of `operation()`'s generator, retrying as `call` does until its first item.

        Once an item was yielded the caller has seen part of the answer, so a later error propagates unchanged.
        """
        attempt = 0
        while True:
            generator = operation()
            started = False
            try:
                while True:
                    try:
                        item = next(generator)
                    except StopIteration as finished:
                        return finished.value
                    started = True
                    yield item
            except LLMError as error:
                wait = self.delay(attempt)
                if started or not self._worth_retrying(error, attempt, wait):
                    raise
                logger.warning(
                    "LLM stream failed before its first token ({}); retry {}/{} in {:.2f}s",
                    error,
                    attempt + 1,
                    self.max_retries,
                    wait,
                )
                sleep(wait)
                attempt += 1
            finally:
                generator.close()

    def _worth_retrying(self, error: LLMError, attempt: int, wait: float) -> bool:
        """Whether `error` may be tried again: retryable, attempts left, and time left for the wait."""
        if not error.retryable or attempt >= self.max_retries:
            return False
        deadline = current_deadline()
        remaining = deadline.remaining() if deadline is not None else None
        # A retry that cannot even start before the caller's deadline would only load the server.
        return remaining is None or remaining > wait
