"""One interface for every LLM the project calls (chat and text completion), its errors and retry policy."""

from llm_engineering.application.errors import (
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnavailableError,
)
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters, LLMClient, LLMResponse
from llm_engineering.application.llm.retry import RetryPolicy

__all__ = [
    "ChatMessage",
    "GenerationParameters",
    "LLMClient",
    "LLMError",
    "LLMResponse",
    "LLMResponseError",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "RetryPolicy",
]
