"""How failures of the service's dependencies become HTTP answers (503 naming the dependency)."""

from __future__ import annotations

from llm_engineering.application.errors import LLMResponseError, LLMUnavailableError
from llm_engineering.domain.exceptions import (
    ImproperlyConfigured,
    LLMTwinError,
    VectorStoreOperationError,
    VectorStoreUnavailableError,
    WarehouseOperationError,
    WarehouseUnavailableError,
)


class DependencyUnavailable(LLMTwinError):
    """A dependency (named) failed; answered as 503."""

    def __init__(self, dependency: str, detail: str):
        super().__init__(f"{dependency} unavailable: {detail}")
        self.dependency = dependency
        self.detail = detail


def translate_error(error: Exception) -> DependencyUnavailable | None:
    """Map a failure to the dependency it names, or None if it is not a dependency failure."""
    if isinstance(error, DependencyUnavailable):
        return error
    if isinstance(error, LLMUnavailableError):
        return DependencyUnavailable("LLM service", str(error))
    if isinstance(error, LLMResponseError):
        return DependencyUnavailable("LLM service", f"invalid response: {error}")
    if isinstance(error, WarehouseUnavailableError | WarehouseOperationError):
        return DependencyUnavailable("data warehouse (MongoDB)", str(error))
    if isinstance(error, VectorStoreUnavailableError | VectorStoreOperationError):
        return DependencyUnavailable("vector store (Qdrant)", str(error))
    if isinstance(error, ImproperlyConfigured):
        return DependencyUnavailable("configuration", str(error))
    return None
