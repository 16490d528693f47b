"""Retries with exponential backoff and jitter for retryable LLM errors."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

from loguru import logger

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

    def call(self, operation: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
        """Run `operation`, retrying retryable `LLMError`s; the last error propagates unchanged."""
        attempt = 0
        while True:
            try:
                return operation()
            except LLMError as error:
                if not error.retryable or attempt >= self.max_retries:
                    raise
                wait = self.delay(attempt)
                logger.warning(
                    "LLM call failed ({}); retry {}/{} in {:.2f}s", error, attempt + 1, self.max_retries, wait
                )
                sleep(wait)
                attempt += 1

    def stream(
        self, operation: Callable[[], Generator[Y, None, T]], sleep: Callable[[float], None] = time.sleep
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
                if started or not error.retryable or attempt >= self.max_retries:
                    raise
                wait = self.delay(attempt)
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
