"""Interfaces the application layer needs from the outside world; infrastructure implements them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class Embedder(Protocol):
    """A text embedding model. Vectors are L2-normalised, so cosine similarity is a dot product."""

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_input_tokens(self) -> int:
        """Tokens the model reads per text; anything longer is truncated by the model."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> list[list[float]]: ...
