"""The write token every push to the Hub needs, checked before any library is loaded."""

from __future__ import annotations

from llm_engineering.infrastructure.errors import DatasetPublishError


def require_write_token(token: str | None) -> None:
    """Raise DatasetPublishError naming HUGGINGFACE_ACCESS_TOKEN when `token` is empty."""
    if not token:
        raise DatasetPublishError(
            "push_to_huggingface is set but HUGGINGFACE_ACCESS_TOKEN is empty: add a write token to .env."
        )
