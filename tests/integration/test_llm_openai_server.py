"""The OpenAI-compatible client against a real `transformers serve` process with a tiny model."""

import pytest

from llm_engineering.application.errors import LLMResponseError, LLMTimeoutError, LLMUnavailableError
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters
from llm_engineering.application.llm.retry import RetryPolicy
from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def _client(llm_server, **kwargs) -> OpenAICompatibleClient:
    return OpenAICompatibleClient(llm_server["base_url"], llm_server["model_id"], **kwargs)


def test_chat_completion_from_a_real_model(llm_server):
    print(f"tiny LLM server started in {llm_server['startup_s']:.1f}s")
    response = _client(llm_server).chat(
        [ChatMessage("system", "Be brief."), ChatMessage("user", "write about rag")],
        GenerationParameters(max_new_tokens=5, temperature=0.0, top_p=1.0),
    )
    assert isinstance(response.text, str)
    assert response.completion_tokens is not None and 1 <= response.completion_tokens <= 5
    assert response.prompt_tokens and response.prompt_tokens > 5  # the chat template's preamble counts
    assert response.model_id.startswith(llm_server["model_id"])
    assert response.latency_s > 0


def test_text_completion_and_sampling_parameters(llm_server):
    response = _client(llm_server).complete(
        "the model", GenerationParameters(max_new_tokens=4, temperature=0.7, top_p=0.9, repetition_penalty=1.1)
    )
    assert response.completion_tokens is not None and response.completion_tokens <= 4
    assert response.finish_reason in {"stop", "length"}


def test_ping_and_a_wrong_model_name(llm_server):
    _client(llm_server).ping()
    wrong = OpenAICompatibleClient(llm_server["base_url"], "another-model")
    with pytest.raises(LLMResponseError) as raised:
        wrong.chat([ChatMessage("user", "hi")], GenerationParameters(max_new_tokens=2))
    assert raised.value.status_code == 400


def test_a_closed_port_is_unavailable_after_retries():
    client = OpenAICompatibleClient(
        f"http://127.0.0.1:{free_port()}/v1", "m", retry_policy=RetryPolicy(max_retries=1, base_delay_s=0)
    )
    with pytest.raises(LLMUnavailableError, match="unreachable"):
        client.chat([ChatMessage("user", "hi")])
    with pytest.raises(LLMUnavailableError):
        client.ping()


def test_a_too_short_timeout_is_a_timeout_error(llm_server):
    client = _client(llm_server, timeout_s=0.001, retry_policy=RetryPolicy(max_retries=0))
    with pytest.raises(LLMTimeoutError):
        client.chat([ChatMessage("user", "hi")], GenerationParameters(max_new_tokens=64))


def test_starting_again_is_a_no_op(llm_server):
    server = llm_server["server"]
    assert server.status().healthy
    assert server.start().startswith("local LLM: already up")
