"""Interfaces the application layer needs from the outside world; infrastructure implements them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable


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


T = TypeVar("T")


@runtime_checkable
class Tracer(Protocol):
    """Prompt monitoring (Opik in production): named spans around calls, metadata on the current trace."""

    def call(self, name: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `function(*args, **kwargs)` inside a span called `name`; return its result."""
        ...

    def annotate(
        self, metadata: dict[str, Any], input: dict[str, Any] | None = None, output: dict[str, Any] | None = None
    ) -> None:
        """Attach metadata (model ids, token counts, latency) and the request's input/output to the current
        trace."""
        ...

    @property
    def enabled(self) -> bool:
        """Whether traces are recorded anywhere."""
        ...

    def trace_id(self) -> str | None:
        """The id of the trace being recorded (inside `call`), for feedback; None when not tracing."""
        ...

    def record_feedback(self, trace_id: str, name: str, value: float, reason: str | None = None) -> bool:
        """Attach a score (a user's thumbs up, a judge's grade) to a recorded trace; True when stored."""
        ...


class NoTracing:
    """The `Tracer` that records nothing (tests, and services without monitoring)."""

    def call(self, name: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return function(*args, **kwargs)

    def annotate(
        self, metadata: dict[str, Any], input: dict[str, Any] | None = None, output: dict[str, Any] | None = None
    ) -> None:
        return None

    @property
    def enabled(self) -> bool:
        return False

    def trace_id(self) -> str | None:
        return None

    def record_feedback(self, trace_id: str, name: str, value: float, reason: str | None = None) -> bool:
        return False
