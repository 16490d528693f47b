"""The model layer's own exceptions, derived from the project's base error `LLMTwinError`."""

from __future__ import annotations

from llm_engineering.domain.exceptions import LLMTwinError


class ModelConversionError(LLMTwinError):
    """Weights could not be converted from one format into another (for example GGUF -> Hugging Face)."""
