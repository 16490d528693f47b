"""An OpenAI-compatible HTTP client (`/v1/chat/completions`, `/v1/completions`) over httpx.

Works with OpenAI, `vllm serve`, TGI's Messages API and `transformers serve`. httpx errors and bad
responses are translated into the typed `LLMError`s; retryable failures go through the `RetryPolicy`.
Chat replies can also be streamed (`"stream": true`, server-sent events).

Under a caller's `Deadline` (`application.deadline`, set by the API per request) every exchange's timeouts
are cut to the time left, and cancelling the deadline shuts the exchange's socket down: the blocked
thread returns at once and the server sees the client leave, so it stops generating for nobody.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from typing import Any

import httpx

from llm_engineering.application.deadline import Deadline, current_deadline
from llm_engineering.application.errors import (
    DeadlineExceededError,
    LLMResponseError,
    LLMServerError,
    LLMTimeoutError,
    LLMUnavailableError,
    RequestCancelledError,
)
from llm_engineering.application.llm.client import ChatMessage, ChatStream, GenerationParameters, LLMResponse
from llm_engineering.application.llm.retry import RetryPolicy

# "Not taken, try later": the server did not start on the request, so sending it again adds no work.
# Other 5xx come after the server took it (it may still be generating): never re-sent.
RETRYABLE_STATUS = {408, 429, 503}
# Seconds a health call may take.
PING_TIMEOUT_S = 5.0
# A timeout this close to the caller's deadline is the deadline's (socket timers are not exact).
DEADLINE_SLACK_S = 0.05
# A streamed reply goes on this many chunks past a stop sequence at most before we stop reading it.
MAX_CHUNKS_AFTER_STOP = 4


class OpenAICompatibleClient:
    """A thread-safe client for one model on one OpenAI-compatible server. `model_id` may be a function,
    asked on every request: the served model (`bootstrap.build_llm_client` with LLM_MODEL_ID=auto), which
    a switch changes without a restart."""

    def __init__(
        self,
        base_url: str,
        model_id: str | Callable[[], str],
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
        self.timeout_s = timeout_s
        self.connect_timeout_s = min(connect_timeout_s, timeout_s)
        self.timeout = httpx.Timeout(timeout_s, connect=self.connect_timeout_s)
        self.retry_policy = retry_policy or RetryPolicy()
        self.defaults = defaults or GenerationParameters()
        self._transport = transport
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        # Set when the server rejects `response_format`; later calls then go without it.
        self.json_mode_supported = True
        # Likewise for `stream_options` (asks for token usage in a stream's last chunk) and `min_tokens` (vLLM's
        # and the local llama.cpp server's; `transformers serve` rejects unknown fields).
        self.stream_usage_supported = True
        self.min_tokens_supported = True

    def __repr__(self) -> str:
        return f"OpenAICompatibleClient(base_url={self.base_url!r}, model_id={self.model_id!r})"

    @property
    def model_id(self) -> str:
        """The model requests name now."""
        return self._model_id() if callable(self._model_id) else self._model_id

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

    def stream_chat(self, messages: list[ChatMessage], parameters: GenerationParameters | None = None) -> ChatStream:
        """One chat completion streamed: text deltas as the server sends them, then (as the return value) the
        `LLMResponse` that `chat` would give.

        Failures before the first delta are retried as in `chat`; later ones propagate. Token usage comes from
        the stream's last chunk when the server sends it, else completion tokens are the content chunks
        counted (one token each on vLLM, TGI and `transformers serve`) and prompt tokens are unknown.
        """
        if not messages:
            raise ValueError("stream_chat() needs at least one message")
        body: dict[str, Any] = {
            "messages": [message.as_dict() for message in messages],
            **self._sampling(parameters),
            "stream": True,
        }
        if self.stream_usage_supported:
            body["stream_options"] = {"include_usage": True}
        return (yield from self.retry_policy.stream(lambda: self._stream("/chat/completions", body)))

    def ping(self) -> None:
        """Raise `LLMUnavailableError` unless the server answers HTTP on `/models` (any status below 500)."""
        with self._exchange(PING_TIMEOUT_S) as exchange:
            response = self.http.get("/models", timeout=exchange.timeout, extensions=exchange.extensions)
        if response.status_code >= 500 and not self._root_health_ok():
            raise LLMUnavailableError(f"LLM server at {self.base_url} answered {response.status_code} on /models")

    def list_models(self) -> dict[str, Any] | None:
        """The server's `GET /models` answer (OpenAI's model list), or None when it has no such route (4xx) or
        answers something that is not JSON. Raises `LLMUnavailableError` when the server cannot be reached."""
        with self._exchange(PING_TIMEOUT_S) as exchange:
            response = self.http.get("/models", timeout=exchange.timeout, extensions=exchange.extensions)
        if response.status_code >= 500:
            raise LLMUnavailableError(f"LLM server at {self.base_url} answered {response.status_code} on /models")
        if response.status_code >= 400:
            return None
        try:
            answer = response.json()
        except ValueError:
            return None
        return answer if isinstance(answer, dict) else None

    # --- Internals -----------------------------------------------------------------------------
    @contextmanager
    def _exchange(self, read_timeout_s: float) -> Iterator[_Exchange]:
        """One HTTP exchange under the caller's deadline (if any): its timeouts cut to the time left, its
        socket shut down if the deadline is cancelled meanwhile, httpx errors translated."""
        deadline = current_deadline()
        read_s = deadline.limit(read_timeout_s) if deadline is not None else read_timeout_s
        exchange = _Exchange(httpx.Timeout(read_s, connect=min(self.connect_timeout_s, read_s)), deadline)
        with deadline.interrupts(exchange.cut) if deadline is not None else nullcontext():
            try:
                yield exchange
            except httpx.HTTPError as error:
                raise self._transport_error(error, deadline) from error

    def _root_health_ok(self) -> bool:
        # `transformers serve` exposes /health at the root, beside /v1.
        root = self.base_url.rsplit("/v1", 1)[0]
        try:
            with self._exchange(PING_TIMEOUT_S) as exchange:
                response = self.http.get(f"{root}/health", timeout=exchange.timeout, extensions=exchange.extensions)
        except LLMUnavailableError:
            return False
        return response.status_code == 200

    def _sampling(self, parameters: GenerationParameters | None) -> dict[str, Any]:
        chosen = parameters or self.defaults
        body: dict[str, Any] = {
            "model": self.model_id,
            "max_tokens": chosen.max_new_tokens,
            "temperature": chosen.temperature,
            "top_p": chosen.top_p,
        }
        if chosen.repetition_penalty != 1.0:
            # OpenAI's additive frequency penalty; `transformers serve` maps it to repetition_penalty = 1 + value.
            body["frequency_penalty"] = round(chosen.repetition_penalty - 1.0, 4)
        if chosen.stop:
            body["stop"] = list(chosen.stop)[:4]  # OpenAI accepts at most four stop sequences
        if chosen.min_new_tokens and self.min_tokens_supported:
            body["min_tokens"] = chosen.min_new_tokens
        if chosen.json_output and self.json_mode_supported:
            body["response_format"] = {"type": "json_object"}
        return body

    def _generate(self, path: str, body: dict[str, Any], chat: bool) -> LLMResponse:
        started = time.perf_counter()
        with self._exchange(self.timeout_s) as exchange:
            response = self.http.post(path, json=body, timeout=exchange.timeout, extensions=exchange.extensions)
        latency = time.perf_counter() - started
        if response.status_code >= 400:
            reduced = self._without_rejected_option(body, response)
            if reduced is not None:
                return self._generate(path, reduced, chat)
            raise self._status_error(path, response)
        return self._parse(response, chat=chat, latency=latency, stop=body.get("stop") or [])

    def _without_rejected_option(self, body: dict[str, Any], response: httpx.Response) -> dict[str, Any] | None:
        """The body without an optional field the server rejected (JSON mode, stream usage, a minimum length);
        None if none was."""
        if response.status_code not in (400, 422):
            return None
        for option in ("response_format", "stream_options", "min_tokens"):
            if option in body and option in response.text:
                # A server without it: ask again without (JSON is parsed tolerantly; usage is then counted; a
                # reply may then end early, and the answer guard judges it as ever).
                if option == "response_format":
                    self.json_mode_supported = False
                elif option == "stream_options":
                    self.stream_usage_supported = False
                else:
                    self.min_tokens_supported = False
                return {key: value for key, value in body.items() if key != option}
        return None

    def _status_error(self, path: str, response: httpx.Response) -> LLMUnavailableError | LLMResponseError:
        message = f"LLM server at {self.base_url}{path} answered {response.status_code}: {response.text[:300]}"
        if response.status_code in RETRYABLE_STATUS:
            return LLMUnavailableError(message)
        if response.status_code >= 500:
            return LLMServerError(message)
        return LLMResponseError(message, status_code=response.status_code)

    def _stream(self, path: str, body: dict[str, Any]) -> ChatStream:
        """One attempt at a streamed completion: open it, yield its deltas, close it however it ends."""
        started = time.perf_counter()
        with self._exchange(self.timeout_s) as exchange:
            response = self._open_stream(path, body, exchange)
            stop = body.get("stop") or []
            try:
                return (yield from self._read_stream(response, started, stop=stop, deadline=exchange.deadline))
            finally:
                response.close()

    def _open_stream(self, path: str, body: dict[str, Any], exchange: _Exchange) -> httpx.Response:
        while True:
            request = self.http.build_request(
                "POST", path, json=body, timeout=exchange.timeout, extensions=exchange.extensions
            )
            response = self.http.send(request, stream=True)
            exchange.watch(response)
            if response.status_code < 400:
                return response
            try:
                response.read()
            finally:
                response.close()
            reduced = self._without_rejected_option(body, response)
            if reduced is None:
                raise self._status_error(path, response)
            body = reduced

    def _read_stream(
        self, response: httpx.Response, started: float, stop: list[str], deadline: Deadline | None = None
    ) -> ChatStream:
        """The content deltas of an OpenAI chat-completion event stream, cut at the first stop sequence."""
        cutter = StopSequenceCutter(stop)
        parts: list[str] = []
        chunks, stopped_at = 0, None
        model_id, usage, finish_reason, last = self.model_id, {}, None, {}
        for payload in self._stream_payloads(response):
            if deadline is not None:
                deadline.check()  # a server that keeps sending must still stop at the caller's deadline
            last = payload
            model_id = str(payload.get("model") or model_id)
            usage = payload.get("usage") or usage
            choices = payload.get("choices") or []
            choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
            finish_reason = choice.get("finish_reason") or finish_reason
            delta = (choice.get("delta") or {}).get("content")
            if not isinstance(delta, str) or not delta:
                continue
            chunks += 1
            if stopped_at is not None:
                if chunks - stopped_at > MAX_CHUNKS_AFTER_STOP:
                    break  # a server that ignores `stop`: do not wait for the rest
                continue
            text = cutter.feed(delta)
            if text:
                parts.append(text)
                yield text
            if cutter.stopped:
                # The model wrote a stop sequence the server did not cut (`transformers serve`): the answer ends
                # here; the server stops too, so the rest of the stream is read for its usage only.
                stopped_at = chunks
        tail = cutter.flush()
        if tail:
            parts.append(tail)
            yield tail
        return LLMResponse(
            text="".join(parts),
            model_id=model_id,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens", chunks),
            latency_s=time.perf_counter() - started,
            finish_reason="stop" if stopped_at is not None else finish_reason,
            raw=last,
        )

    def _stream_payloads(self, response: httpx.Response) -> Iterator[dict[str, Any]]:
        """The JSON objects of the stream's `data:` events, until `[DONE]` or the end of the body."""
        for data in server_sent_data(response.iter_lines()):
            if data == "[DONE]":
                return
            try:
                payload = json.loads(data)
            except ValueError as error:
                raise LLMResponseError(
                    f"LLM server at {self.base_url} streamed an unexpected event: {data[:200]}", response.status_code
                ) from error
            if not isinstance(payload, dict):
                raise LLMResponseError(f"LLM server at {self.base_url} streamed {data[:200]}", response.status_code)
            if payload.get("error"):
                error = payload["error"]
                message = error.get("message", error) if isinstance(error, dict) else error
                raise LLMServerError(f"LLM server at {self.base_url} failed while streaming: {message}")
            yield payload

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
            model_id=str(payload.get("model") or self.model_id),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            latency_s=latency,
            finish_reason=choice.get("finish_reason"),
            raw=payload,
        )

    def _transport_error(
        self, error: httpx.HTTPError, deadline: Deadline | None = None
    ) -> LLMUnavailableError | RequestCancelledError:
        """The typed error for an httpx failure: the caller's cancellation or deadline first, then a refused
        or never-accepted connection (retryable), a timeout after sending (not retryable), or unreachable."""
        if deadline is not None and deadline.cancelled:
            return RequestCancelledError(f"the call to the LLM server at {self.base_url} was cancelled")
        remaining = deadline.remaining() if deadline is not None else None
        if deadline is not None and remaining is not None and remaining < DEADLINE_SLACK_S:
            return DeadlineExceededError(
                f"the LLM server at {self.base_url} did not answer before the {deadline.timeout_s:g}s deadline"
            )
        name = type(error).__name__
        if isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout):
            return LLMUnavailableError(f"LLM server at {self.base_url} accepted no connection in time ({name})")
        if isinstance(error, httpx.TimeoutException):
            return LLMTimeoutError(f"LLM server at {self.base_url} timed out ({name})")
        return LLMUnavailableError(f"LLM server at {self.base_url} is unreachable: {name}: {error}")


class _Exchange:
    """The timeout and deadline of one HTTP exchange, and the sockets it uses, so that a cancelled caller
    can cut them.

    Shutting a socket down wakes the thread blocked reading it, and tells the server the client left.
    A new connection's socket is known from httpcore's trace hook once connected; a reused one only once
    the response headers arrived (before that, the exchange's timeout, cut to the deadline, bounds it).
    """

    def __init__(self, timeout: httpx.Timeout, deadline: Deadline | None):
        self.timeout = timeout
        self.deadline = deadline
        self._sockets: list[socket.socket] = []
        self._cut = False
        self._lock = threading.Lock()

    @property
    def extensions(self) -> dict[str, Any]:
        return {"trace": self._trace}

    def watch(self, response: httpx.Response) -> None:
        """Also cut the connection `response` is read from (a reused connection is known only now)."""
        self._add(response.extensions.get("network_stream"))

    def cut(self) -> None:
        """Shut down every socket of the exchange (from any thread), and any it connects later."""
        with self._lock:
            self._cut = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut_down(sock)

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            self._add(info.get("return_value"))

    def _add(self, stream: Any) -> None:
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            cut = self._cut
        if cut:
            _shut_down(sock)


def _shut_down(sock: socket.socket) -> None:
    # The plain socket's shutdown, also under TLS: it wakes a blocked reader and leaves the TLS object be.
    with suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def cut_at_stop(text: str, stop: list[str]) -> str:
    """Text up to the first stop sequence: some servers (e.g. `transformers serve`) include it, OpenAI does not."""
    cuts = [index for sequence in stop if sequence and (index := text.find(sequence)) >= 0]
    return text[: min(cuts)] if cuts else text


def server_sent_data(lines: Iterator[str]) -> Iterator[str]:
    """The data of each server-sent event (its `data:` lines joined by newlines); other fields are ignored."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value.removeprefix(" "))
    if data:
        yield "\n".join(data)


class StopSequenceCutter:
    """Streams text up to the first stop sequence, holding back a tail that may be the start of one."""

    def __init__(self, stop: list[str]):
        self.stop = [sequence for sequence in stop if sequence]
        self.pending = ""
        self.stopped = False

    def feed(self, delta: str) -> str:
        """The part of `pending + delta` that is certainly answer text (nothing once a stop sequence was seen)."""
        if self.stopped:
            return ""
        text = self.pending + delta
        cut = cut_at_stop(text, self.stop)
        if len(cut) < len(text):
            self.stopped, self.pending = True, ""
            return cut
        hold = max((self._partial_stop(text, sequence) for sequence in self.stop), default=0)
        self.pending = text[len(text) - hold :]
        return text[: len(text) - hold]

    def flush(self) -> str:
        """What was held back (the stream ended without completing a stop sequence)."""
        text, self.pending = self.pending, ""
        return text

    @staticmethod
    def _partial_stop(text: str, sequence: str) -> int:
        for size in range(min(len(sequence) - 1, len(text)), 0, -1):
            if text.endswith(sequence[:size]):
                return size
        return 0
