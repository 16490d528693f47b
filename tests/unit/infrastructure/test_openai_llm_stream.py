"""The OpenAI-compatible client's streamed chat (`"stream": true`) against `httpx.MockTransport`."""

import json

import httpx
import pytest

from llm_engineering.application.deadline import Deadline, within
from llm_engineering.application.errors import (
    DeadlineExceededError,
    LLMResponseError,
    LLMServerError,
    LLMTimeoutError,
    LLMUnavailableError,
)
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters, StreamingLLMClient
from llm_engineering.application.llm.retry import RetryPolicy
from llm_engineering.infrastructure.llm.openai_compatible import (
    OpenAICompatibleClient,
    StopSequenceCutter,
    server_sent_data,
)

NO_WAIT = RetryPolicy(max_retries=2, base_delay_s=0)
HELLO = [ChatMessage("user", "Hello")]


def _client(handler, **kwargs) -> OpenAICompatibleClient:
    return OpenAICompatibleClient(
        "http://llm.test/v1", "twin", transport=httpx.MockTransport(handler), retry_policy=NO_WAIT, **kwargs
    )


def _chunk(content: str | None = None, finish_reason: str | None = None, usage: dict | None = None) -> dict:
    delta = {} if content is None else {"content": content}
    return {
        "model": "twin-1",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        "usage": usage,
    }


def _sse(*payloads: dict | str, done: bool = True) -> bytes:
    events = [f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n" for p in payloads]
    return ("".join(events) + ("data: [DONE]\n\n" if done else "")).encode()


class Broken(httpx.SyncByteStream):
    """A body that sends `first`, then fails as a reset connection would; records whether it was closed."""

    def __init__(self, first: bytes):
        self.first = first
        self.closed = False

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield self.first
        raise httpx.ReadError("connection reset by peer")

    def close(self) -> None:
        self.closed = True


def _drain(stream) -> tuple[list[str], object]:  # type: ignore[no-untyped-def]
    deltas = []
    while True:
        try:
            deltas.append(next(stream))
        except StopIteration as finished:
            return deltas, finished.value


def test_deltas_stream_and_the_response_carries_the_usage_of_the_last_chunk():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"], seen["body"] = str(request.url), json.loads(request.content)
        body = _sse(
            {"model": "twin-1", "choices": [{"index": 0, "delta": {"role": "assistant"}}]},
            _chunk("Hel"),
            _chunk("lo"),
            _chunk(" there", finish_reason="stop"),
            {"model": "twin-1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3}},
        )
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    client = _client(handler)
    assert isinstance(client, StreamingLLMClient)
    deltas, response = _drain(client.stream_chat(HELLO, GenerationParameters(max_new_tokens=7)))
    assert seen["url"] == "http://llm.test/v1/chat/completions"
    assert seen["body"]["stream"] is True and seen["body"]["stream_options"] == {"include_usage": True}
    assert seen["body"]["max_tokens"] == 7 and seen["body"]["messages"] == [{"role": "user", "content": "Hello"}]
    assert deltas == ["Hel", "lo", " there"]
    assert (response.text, response.model_id, response.finish_reason) == ("Hello there", "twin-1", "stop")
    assert (response.prompt_tokens, response.completion_tokens, response.total_tokens) == (9, 3, 12)
    assert response.latency_s > 0


def test_without_usage_the_content_chunks_are_counted_and_done_is_optional():
    body = b": keep-alive\n\n" + _sse(_chunk("a"), _chunk("b"), _chunk("", finish_reason="length"), done=False)
    deltas, response = _drain(_client(lambda request: httpx.Response(200, content=body)).stream_chat(HELLO))
    assert deltas == ["a", "b"]
    assert (response.prompt_tokens, response.completion_tokens, response.finish_reason) == (None, 2, "length")


def test_a_stop_sequence_split_across_chunks_is_cut_and_ends_the_answer():
    # As `transformers serve` does: the stop sequence is in the stream, then the usage chunk.
    usage = {"prompt_tokens": 20, "completion_tokens": 4}
    body = _sse(_chunk("Rerank first.\n#"), _chunk("## Inst"), _chunk("ruction:"), _chunk(None, "stop", usage))
    deltas, response = _drain(
        _client(lambda request: httpx.Response(200, content=body)).stream_chat(
            HELLO, GenerationParameters(stop=("\n### Instruction:",))
        )
    )
    assert "".join(deltas) == response.text == "Rerank first."
    assert (response.finish_reason, response.prompt_tokens, response.completion_tokens) == ("stop", 20, 4)


def test_a_server_that_ignores_stop_is_not_read_to_its_end():
    body = Broken(_sse(_chunk("Rerank.</s>"), *[_chunk(" more") for _ in range(5)], done=False))
    deltas, response = _drain(
        _client(lambda request: httpx.Response(200, stream=body)).stream_chat(
            HELLO, GenerationParameters(stop=("</s>",))
        )
    )
    assert deltas == ["Rerank."]  # the body's failure after its chunks is never reached
    assert (response.finish_reason, response.completion_tokens) == ("stop", 6) and body.closed


def test_failures_before_the_first_token_are_retried_and_typed():
    replies = [httpx.Response(503, text="loading"), httpx.Response(200, content=_sse(_chunk("ok")))]
    assert _drain(_client(lambda request: replies.pop(0)).stream_chat(HELLO))[0] == ["ok"]

    calls = []

    def rejected(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(400, json={"detail": "Server is pinned to 'a'; requested 'b'."})

    with pytest.raises(LLMResponseError, match="pinned") as raised:
        _drain(_client(rejected).stream_chat(HELLO))
    assert raised.value.status_code == 400 and len(calls) == 1

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(LLMTimeoutError):
        _drain(_client(slow).stream_chat(HELLO))


def test_an_error_event_before_the_first_token_is_final():
    """The server took the request (200) and then failed: only work it never took is sent again."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, content=_sse({"error": "CUDA out of memory"}, done=False))

    with pytest.raises(LLMServerError, match="failed while streaming: CUDA out of memory"):
        _drain(_client(handler).stream_chat(HELLO))
    assert len(calls) == 1


def test_a_stream_that_outlives_the_deadline_stops_between_chunks():
    clock = [0.0]

    body = _sse(_chunk("one "), _chunk("two "), _chunk("three "))
    stream = _client(lambda request: httpx.Response(200, content=body)).stream_chat(HELLO)
    with within(Deadline(1.5, clock=lambda: clock[0])):
        assert next(stream) == "one "
        clock[0] = 2.0  # the server keeps sending, slower than the deadline
        with pytest.raises(DeadlineExceededError):
            next(stream)


def test_a_connection_lost_after_the_first_token_is_not_retried():
    calls, bodies = [], []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        bodies.append(Broken(_sse(_chunk("Rerank "), done=False)))
        return httpx.Response(200, stream=bodies[-1])

    stream = _client(handler).stream_chat(HELLO)
    assert next(stream) == "Rerank "
    with pytest.raises(LLMUnavailableError, match="unreachable: ReadError"):
        next(stream)
    assert len(calls) == 1 and bodies[0].closed


def test_closing_the_stream_early_closes_the_http_response():
    body = Broken(_sse(_chunk("Rerank "), _chunk("before"), done=False))
    stream = _client(lambda request: httpx.Response(200, stream=body)).stream_chat(HELLO)
    assert next(stream) == "Rerank "
    stream.close()
    assert body.closed


def test_a_server_that_rejects_stream_options_is_asked_again_without():
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        if "stream_options" in bodies[-1]:
            return httpx.Response(422, json={"detail": "Unexpected fields in the request: {'stream_options'}"})
        return httpx.Response(200, content=_sse(_chunk("ok")))

    client = _client(handler)
    assert _drain(client.stream_chat(HELLO))[0] == ["ok"]
    assert _drain(client.stream_chat(HELLO))[0] == ["ok"]
    assert [("stream_options" in body) for body in bodies] == [True, False, False]
    assert client.stream_usage_supported is False


def test_malformed_events_are_response_errors():
    with pytest.raises(LLMResponseError, match="unexpected event"):
        _drain(_client(lambda request: httpx.Response(200, content=_sse("not json"))).stream_chat(HELLO))


def test_server_sent_data_joins_data_lines_and_ignores_other_fields():
    lines = ["event: x", "data: {", "data:  1}", "", ": comment", "id: 3", "data:[DONE]"]
    assert list(server_sent_data(iter(lines))) == ["{\n 1}", "[DONE]"]


def test_the_stop_cutter_holds_back_only_what_may_start_a_stop_sequence():
    cutter = StopSequenceCutter(["</s>", "\n###"])
    assert cutter.feed("one <") == "one "
    assert cutter.feed("b> two\n#") == "<b> two"
    assert cutter.feed("#") == ""
    assert cutter.flush() == "\n##"
    cutter = StopSequenceCutter(["</s>"])
    assert (cutter.feed("end</"), cutter.feed("s> more"), cutter.stopped, cutter.feed("x")) == ("end", "", True, "")
