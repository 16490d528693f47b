"""The LLM port: chat and text completion behind one small interface, plus optional streaming."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class GenerationParameters:
    """Sampling settings of one call. `repetition_penalty` 1.0 means none (the book uses 1.1)."""

    max_new_tokens: int = 150
    temperature: float = 0.01
    top_p: float = 0.9
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    # No end of text before this many new tokens (vLLM's and this project's llama.cpp server's `min_tokens`);
    # 0 sends nothing, so servers without the field get the plain request.
    min_new_tokens: int = 0
    # Ask for a JSON object (OpenAI's JSON mode); servers without it get a plain request, so parse tolerantly.
    json_output: bool = False

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if not 0 <= self.temperature <= 2:
            raise ValueError("temperature must be within [0, 2]")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be within (0, 1]")
        if self.repetition_penalty <= 0:
            raise ValueError("repetition_penalty must be > 0")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ValueError("min_new_tokens must be within [0, max_new_tokens]")

    def merged(self, **changes: object) -> GenerationParameters:
        """A copy with the given fields replaced (None values are ignored)."""
        return replace(self, **{key: value for key, value in changes.items() if value is not None})


@dataclass(frozen=True)
class LLMResponse:
    """Generated text plus what monitoring needs: model id, token counts (when reported) and latency."""

    text: str
    model_id: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    finish_reason: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens + self.completion_tokens


@runtime_checkable
class LLMClient(Protocol):
    """Any text generator the application can call. Errors are `LLMError` subclasses."""

    @property
    def model_id(self) -> str: ...

    @property
    def endpoint(self) -> str:
        """Where the model is served (URL or endpoint name), for logs and error messages."""
        ...

    def chat(self, messages: list[ChatMessage], parameters: GenerationParameters | None = None) -> LLMResponse: ...

    def complete(self, prompt: str, parameters: GenerationParameters | None = None) -> LLMResponse: ...

    def ping(self) -> None:
        """Raise `LLMUnavailableError` when the service does not answer."""
        ...


# Text deltas as the model writes them; the generator's return value is the whole reply (text, token counts).
ChatStream = Generator[str, None, LLMResponse]


@runtime_checkable
class StreamingLLMClient(LLMClient, Protocol):
    """An `LLMClient` that can also stream a chat reply (optional: see `stream_chat` for the fallback)."""

    def stream_chat(self, messages: list[ChatMessage], parameters: GenerationParameters | None = None) -> ChatStream:
        """Yield the reply's text deltas; return the same `LLMResponse` `chat` would (after the last delta)."""
        ...


def stream_chat(
    llm: LLMClient, messages: list[ChatMessage], parameters: GenerationParameters | None = None
) -> ChatStream:
    """Stream `llm`'s chat reply: its text deltas, then (as the return value) the whole `LLMResponse`.

    Every client works: one without `stream_chat` (SageMaker, test fakes) answers with `chat` and yields
    its whole text as a single delta. Errors are the client's `LLMError`s, as with `chat`.
    """
    if isinstance(llm, StreamingLLMClient):
        return (yield from llm.stream_chat(messages, parameters))
    response = llm.chat(messages, parameters)
    if response.text:
        yield response.text
    return response
