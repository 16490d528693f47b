import json

import httpx
import pytest

from llm_engineering.application.deadline import Deadline, within
from llm_engineering.application.errors import (
    DeadlineExceededError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnavailableError,
    RequestCancelledError,
)
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters
from llm_engineering.application.llm.retry import RetryPolicy
from llm_engineering.bootstrap import build_llm_client
from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient, cut_at_stop
from llm_engineering.settings import load_settings

NO_WAIT = RetryPolicy(max_retries=2, base_delay_s=0)


def _client(handler, **kwargs) -> OpenAICompatibleClient:
    return OpenAICompatibleClient(
        "http://llm.test/v1", "twin", transport=httpx.MockTransport(handler), retry_policy=NO_WAIT, **kwargs
    )


def _chat_reply(text: str = "hello", **extra) -> dict:
    return {
        "model": "twin",
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 2},
        **extra,
    }


def test_chat_sends_openai_body_and_parses_usage():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"] = str(request.url)
        seen["auth"] = request.headers.get("authorization")
        seen["body"] = json.loads(request.content)
        return httpx.Response(200, json=_chat_reply("hi there"))

    parameters = GenerationParameters(
        max_new_tokens=7, temperature=0.2, top_p=0.8, repetition_penalty=1.1, stop=("\n#",)
    )
    response = _client(handler, api_key="sk-test").chat([ChatMessage("user", "Hello")], parameters)
    assert seen["url"] == "http://llm.test/v1/chat/completions"
    assert seen["auth"] == "Bearer sk-test"
    assert seen["body"] == {
        "model": "twin",
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 7,
        "temperature": 0.2,
        "top_p": 0.8,
        "frequency_penalty": 0.1,
        "stop": ["\n#"],
    }
    assert (response.text, response.prompt_tokens, response.completion_tokens, response.total_tokens) == (
        "hi there",
        11,
        2,
        13,
    )
    assert response.finish_reason == "stop"


def test_completion_uses_the_legacy_endpoint_and_cuts_echoed_stop_sequences():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/completions"
        assert json.loads(request.content)["prompt"] == "Once"
        return httpx.Response(200, json={"choices": [{"text": " upon a time\n### Response:", "finish_reason": "stop"}]})

    response = _client(handler).complete("Once", GenerationParameters(stop=("\n### Response:",)))
    assert response.text == " upon a time"
    assert response.model_id == "twin"
    assert response.prompt_tokens is None


def test_server_errors_are_retried_then_reported_as_unavailable():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503, text="loading")

    with pytest.raises(LLMUnavailableError, match="503"):
        _client(handler).chat([ChatMessage("user", "x")])
    assert len(calls) == 3


def test_a_transient_failure_recovers():
    replies = [httpx.Response(429, text="slow down"), httpx.Response(200, json=_chat_reply("ok"))]
    assert _client(lambda request: replies.pop(0)).chat([ChatMessage("user", "x")]).text == "ok"


def test_client_errors_are_final_and_typed():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(400, json={"detail": "Server is pinned to 'a'; requested 'b'."})

    with pytest.raises(LLMResponseError, match="pinned") as raised:
        _client(handler).chat([ChatMessage("user", "x")])
    assert raised.value.status_code == 400
    assert len(calls) == 1


@pytest.mark.parametrize("body", [{"choices": []}, {"nothing": 1}, {"choices": [{"message": {"content": None}}]}])
def test_malformed_bodies_are_response_errors(body):
    with pytest.raises(LLMResponseError):
        _client(lambda request: httpx.Response(200, json=body)).chat([ChatMessage("user", "x")])


def test_timeouts_and_refused_connections_are_typed():
    def slow(request):
        raise httpx.ReadTimeout("timed out", request=request)

    def refused(request):
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(LLMTimeoutError):
        _client(slow).chat([ChatMessage("user", "x")])
    with pytest.raises(LLMUnavailableError, match="unreachable"):
        _client(refused).ping()


def test_ping_accepts_any_answer_below_500_and_checks_root_health_otherwise():
    _client(lambda request: httpx.Response(404)).ping()

    def models_broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200) if request.url.path == "/health" else httpx.Response(500)

    _client(models_broken).ping()
    with pytest.raises(LLMUnavailableError):
        _client(lambda request: httpx.Response(500)).ping()


def test_bad_arguments():
    with pytest.raises(ValueError):
        OpenAICompatibleClient("llm.test", "m")
    with pytest.raises(ValueError):
        _client(lambda r: httpx.Response(200)).chat([])


def test_cut_at_stop_takes_the_earliest_sequence():
    assert cut_at_stop("a\nb### c", ["### ", "\n"]) == "a"
    assert cut_at_stop("abc", []) == "abc"


def test_factory_builds_from_settings(tmp_path):
    settings = load_settings(
        env_file=tmp_path / "none.env",
        LLM_BASE_URL="http://127.0.0.1:9/v1",
        LLM_MODEL_ID="my-model",
        LLM_API_KEY="k",
        LLM_MAX_RETRIES=4,
        LLM_TIMEOUT_S=60,
        MAX_NEW_TOKENS_INFERENCE=33,
    )
    client = build_llm_client(settings)
    assert isinstance(client, OpenAICompatibleClient)
    assert (client.base_url, client.model_id, client.api_key) == ("http://127.0.0.1:9/v1", "my-model", "k")
    assert client.retry_policy.max_retries == 4
    assert client.defaults.max_new_tokens == 33
    assert client.defaults.repetition_penalty == settings.REPETITION_PENALTY_INFERENCE


@pytest.mark.parametrize(("status", "calls_made"), [(429, 3), (503, 3), (408, 3), (500, 1), (502, 1), (504, 1)])
def test_only_statuses_of_work_never_taken_are_retried(status, calls_made):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(status, text="no")

    with pytest.raises(LLMUnavailableError):
        _client(handler).chat([ChatMessage("user", "x")])
    assert len(calls) == calls_made


def test_a_read_timeout_is_not_sent_again_but_a_connect_timeout_is():
    def attempts(error_type: type[httpx.TimeoutException]) -> tuple[type[Exception], int]:
        calls = []

        def handler(request: httpx.Request) -> httpx.Response:
            calls.append(1)
            raise error_type("timed out", request=request)

        with pytest.raises(LLMUnavailableError) as raised:
            _client(handler).chat([ChatMessage("user", "x")])
        return type(raised.value), len(calls)

    assert attempts(httpx.ReadTimeout) == (LLMTimeoutError, 1)
    assert attempts(httpx.ConnectTimeout) == (LLMUnavailableError, 3)


def test_timeouts_are_cut_to_the_callers_deadline():
    timeouts = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        return httpx.Response(200, json={"choices": [{"message": {"content": "hi"}}]})

    client = OpenAICompatibleClient(
        "http://llm.test/v1", "m", timeout_s=90, transport=httpx.MockTransport(handler), retry_policy=NO_WAIT
    )
    client.chat([ChatMessage("user", "x")])
    with within(Deadline(2.0)):
        client.chat([ChatMessage("user", "x")])
        client.ping()
    assert timeouts[0]["read"] == 90 and timeouts[0]["connect"] == 5
    assert all(0 < timeout["read"] <= 2.0 and timeout["connect"] <= 2.0 for timeout in timeouts[1:])


def test_no_call_is_sent_once_the_deadline_passed_and_a_timeout_at_the_deadline_is_the_deadlines():
    clock, calls = [0.0], []

    def slow(request: httpx.Request) -> httpx.Response:
        calls.append(request.extensions["timeout"]["read"])
        clock[0] = 1.0  # the socket timer, cut to the deadline, fires at the deadline
        raise httpx.ReadTimeout("timed out", request=request)

    client = _client(slow)
    with within(Deadline(1.0, clock=lambda: clock[0])), pytest.raises(DeadlineExceededError, match="1s deadline"):
        client.chat([ChatMessage("user", "x")])
    assert calls == [1.0]  # sent once with the time left, and not again
    late = Deadline(1.0, clock=lambda: clock[0])
    clock[0] += 1.0
    with within(late), pytest.raises(DeadlineExceededError):
        client.chat([ChatMessage("user", "x")])
    assert calls == [1.0]  # nothing left of the deadline: not even sent


def test_a_cancelled_caller_gets_no_retry():
    deadline = Deadline(60)

    def refused(request: httpx.Request) -> httpx.Response:
        deadline.cancel("the client left")
        raise httpx.ConnectError("refused", request=request)

    with within(deadline), pytest.raises(RequestCancelledError):
        _client(refused).chat([ChatMessage("user", "x")])


def test_min_tokens_is_sent_when_asked_and_dropped_for_a_server_that_rejects_it():
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        if "min_tokens" in bodies[-1]:
            return httpx.Response(422, json={"detail": "Unexpected keys in the request: {'min_tokens'}"})
        return httpx.Response(200, json=_chat_reply("a reply"))

    client = _client(handler)
    messages = [ChatMessage("user", "hi")]
    client.chat(messages, GenerationParameters(max_new_tokens=40))
    assert "min_tokens" not in bodies[-1], "0 sends nothing"
    assert client.chat(messages, GenerationParameters(max_new_tokens=40, min_new_tokens=30)).text == "a reply"
    assert bodies[-2]["min_tokens"] == 30 and "min_tokens" not in bodies[-1]
    client.chat(messages, GenerationParameters(max_new_tokens=40, min_new_tokens=30))
    assert "min_tokens" not in bodies[-1] and client.min_tokens_supported is False


def test_min_new_tokens_stays_within_max_new_tokens():
    with pytest.raises(ValueError, match="min_new_tokens"):
        GenerationParameters(max_new_tokens=10, min_new_tokens=11)
