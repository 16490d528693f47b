"""The infrastructure layer's own exceptions, derived from the project's base error `LLMTwinError`.

Adapters translate library errors into the domain's and application's exceptions; these are the
failures that only exist out here (a model that will not encode, a local service that will not start).
"""

from __future__ import annotations

from llm_engineering.domain.exceptions import LLMTwinError


class EmbeddingError(LLMTwinError):
    """The embedding model failed while encoding texts."""


class LocalLLMError(LLMTwinError):
    """The local model server could not be started or stopped."""


class DatasetPublishError(LLMTwinError):
    """A dataset could not be pushed to the Hugging Face Hub (no token, no access, network)."""
