"""An OpenAI-compatible HTTP client (`/v1/chat/completions`, `/v1/completions`) over httpx.

Works with OpenAI, `vllm serve`, TGI's Messages API and `transformers serve`. httpx errors and bad
responses are translated into the typed `LLMError`s; retryable failures go through the `RetryPolicy`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from llm_engineering.application.errors import LLMResponseError, LLMTimeoutError, LLMUnavailableError
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters, LLMResponse
from llm_engineering.application.llm.retry import RetryPolicy

# 429 and these 5xx mean "busy or restarting": worth another try. Other statuses are final.
RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


class OpenAICompatibleClient:
    """A thread-safe client for one model on one OpenAI-compatible server."""

    def __init__(
        self,
        base_url: str,
        model_id: str,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        retry_policy: RetryPolicy | None = None,
        defaults: GenerationParameters | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._model_id = model_id
        self.api_key = api_key
        self.timeout = httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s))
        self.retry_policy = retry_policy or RetryPolicy()
        self.defaults = defaults or GenerationParameters()
        self._transport = transport
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        # Set when the server rejects `response_format`; later calls then go without it.
        self.json_mode_supported = True

    def __repr__(self) -> str:
        return f"OpenAICompatibleClient(base_url={self.base_url!r}, model_id={self._model_id!r})"

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def endpoint(self) -> str:
        return self.base_url

    @property
    def http(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                    self._client = httpx.Client(
                        base_url=self.base_url, headers=headers, timeout=self.timeout, transport=self._transport
                    )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- Port ----------------------------------------------------------------------------------
    def chat(self, messages: list[ChatMessage], parameters: GenerationParameters | None = None) -> LLMResponse:
        """One chat completion; the server applies the model's chat template."""
        if not messages:
            raise ValueError("chat() needs at least one message")
        body = {"messages": [message.as_dict() for message in messages], **self._sampling(parameters)}
        return self.retry_policy.call(lambda: self._generate("/chat/completions", body, chat=True))

    def complete(self, prompt: str, parameters: GenerationParameters | None = None) -> LLMResponse:
        """One text completion of a raw prompt (no chat template)."""
        body = {"prompt": prompt, **self._sampling(parameters)}
        return self.retry_policy.call(lambda: self._generate("/completions", body, chat=False))

    def ping(self) -> None:
        """Raise `LLMUnavailableError` unless the server answers HTTP on `/models` (any status below 500)."""
        try:
            response = self.http.get("/models", timeout=httpx.Timeout(5.0))
        except httpx.HTTPError as error:
            raise self._transport_error(error) from error
        if response.status_code >= 500 and not self._root_health_ok():
            raise LLMUnavailableError(f"LLM server at {self.base_url} answered {response.status_code} on /models")

    # --- Internals -----------------------------------------------------------------------------
    def _root_health_ok(self) -> bool:
        # `transformers serve` exposes /health at the root, beside /v1.
        root = self.base_url.rsplit("/v1", 1)[0]
        try:
            return self.http.get(f"{root}/health", timeout=httpx.Timeout(5.0)).status_code == 200
        except httpx.HTTPError:
            return False

    def _sampling(self, parameters: GenerationParameters | None) -> dict[str, Any]:
        chosen = parameters or self.defaults
        body: dict[str, Any] = {
            "model": self._model_id,
            "max_tokens": chosen.max_new_tokens,
            "temperature": chosen.temperature,
            "top_p": chosen.top_p,
        }
        if chosen.repetition_penalty != 1.0:
            # OpenAI's additive frequency penalty; `transformers serve` maps it to repetition_penalty = 1 + value.
            body["frequency_penalty"] = round(chosen.repetition_penalty - 1.0, 4)
        if chosen.stop:
            body["stop"] = list(chosen.stop)[:4]  # OpenAI accepts at most four stop sequences
        if chosen.json_output and self.json_mode_supported:
            body["response_format"] = {"type": "json_object"}
        return body

    def _generate(self, path: str, body: dict[str, Any], chat: bool) -> LLMResponse:
        started = time.perf_counter()
        try:
            response = self.http.post(path, json=body)
        except httpx.HTTPError as error:
            raise self._transport_error(error) from error
        latency = time.perf_counter() - started
        if response.status_code in (400, 422) and "response_format" in body and "response_format" in response.text:
            # A server without JSON mode: ask again without it (the caller parses tolerantly).
            self.json_mode_supported = False
            body = {key: value for key, value in body.items() if key != "response_format"}
            return self._generate(path, body, chat)
        if response.status_code >= 400:
            detail = response.text[:300]
            message = f"LLM server at {self.base_url}{path} answered {response.status_code}: {detail}"
            if response.status_code in RETRYABLE_STATUS:
                raise LLMUnavailableError(message)
            raise LLMResponseError(message, status_code=response.status_code)
        return self._parse(response, chat=chat, latency=latency, stop=body.get("stop") or [])

    def _parse(self, response: httpx.Response, chat: bool, latency: float, stop: list[str]) -> LLMResponse:
        try:
            payload = response.json()
            choice = payload["choices"][0]
            text = choice["message"]["content"] if chat else choice["text"]
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise LLMResponseError(
                f"LLM server at {self.base_url} returned an unexpected body ({error!r}): {response.text[:200]}",
                status_code=response.status_code,
            ) from error
        if not isinstance(text, str):
            raise LLMResponseError(f"LLM server at {self.base_url} returned no text", response.status_code)
        usage = payload.get("usage") or {}
        return LLMResponse(
            text=cut_at_stop(text, stop),
            model_id=str(payload.get("model") or self._model_id),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            latency_s=latency,
            finish_reason=choice.get("finish_reason"),
            raw=payload,
        )

    def _transport_error(self, error: httpx.HTTPError) -> LLMUnavailableError:
        if isinstance(error, httpx.TimeoutException):
            return LLMTimeoutError(f"LLM server at {self.base_url} timed out ({type(error).__name__})")
        return LLMUnavailableError(f"LLM server at {self.base_url} is unreachable: {type(error).__name__}: {error}")


def cut_at_stop(text: str, stop: list[str]) -> str:
    """Text up to the first stop sequence: some servers (e.g. `transformers serve`) include it, OpenAI does not."""
    cuts = [index for sequence in stop if sequence and (index := text.find(sequence)) >= 0]
    return text[: min(cuts)] if cuts else text
