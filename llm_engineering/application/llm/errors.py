"""Typed LLM errors. Infrastructure clients translate transport and protocol failures into these."""

from __future__ import annotations

from llm_engineering.domain.exceptions import LLMTwinError


class LLMError(LLMTwinError):
    """Base class of LLM call failures. `retryable` says whether trying again may help."""

    retryable: bool = False


class LLMUnavailableError(LLMError):
    """The LLM service cannot be reached (connection refused, DNS, server overloaded or 5xx)."""

    retryable = True


class LLMTimeoutError(LLMUnavailableError):
    """The LLM service did not answer within the configured timeout."""


class LLMResponseError(LLMError):
    """The service answered, but with an error status (4xx) or a body that is not a valid completion."""

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code
