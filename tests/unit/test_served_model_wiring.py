"""LLM_MODEL_ID=auto wired end to end in one process: the API's LLM client asks the served model on every
request, so a choice recorded by another process (the CLI) reaches the next request without a restart; an
explicit LLM_MODEL_ID is honoured as it is."""

from __future__ import annotations

import json

import httpx
import pytest

from llm_engineering import bootstrap
from llm_engineering.application.llm.client import ChatMessage
from llm_engineering.domain.serving import ServedModelChoice
from llm_engineering.infrastructure.local.llm_server import LocalLLMServer
from llm_engineering.infrastructure.served_model_store import JsonServedModelStore
from llm_engineering.settings import load_settings
from tests.conftest import free_port


def _settings(tmp_path, **overrides):
    return load_settings(
        env_file=tmp_path / "none.env", LOCAL_DATA_DIR=tmp_path, LOCAL_LLM_PORT=free_port(), **overrides
    )


def _asked_models(client) -> list[str]:
    """Point the client at an in-memory server that answers every chat and records the model asked."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        asked.append(body["model"])
        message = {"role": "assistant", "content": "ok"}
        return httpx.Response(
            200, json={"model": body["model"], "choices": [{"message": message, "finish_reason": "stop"}]}
        )

    client._transport = httpx.MockTransport(answer)
    return asked


@pytest.mark.parametrize("value", [None, "auto", "AUTO", " auto "])
def test_auto_is_the_default_and_means_the_served_model(tmp_path, value):
    settings = _settings(tmp_path, **({"LLM_MODEL_ID": value} if value is not None else {}))
    assert settings.LLM_MODEL_ID == "auto" and settings.configured_llm_model_id is None
    assert bootstrap.served_model(settings).model_id == "gemma-3-270m-twin"
    # A local server built without a model preloads the base model, never a folder called "auto".
    assert LocalLLMServer.from_options(bootstrap.local_engine_options(settings)).served_model_id == "gemma-3-270m-twin"


def test_the_client_asks_the_choice_recorded_by_another_process_on_its_next_request(tmp_path):
    container = bootstrap.Container(_settings(tmp_path))
    llm = container.llm()
    asked = _asked_models(llm)
    llm.chat([ChatMessage("user", "Hi")])

    # The CLI (another process, another store object) records a choice.
    JsonServedModelStore(bootstrap.served_model_file(container.settings)).write(
        ServedModelChoice(spec="llm_twin:v3", model_id="llm_twin-v3", chosen_at="2026-01-01T00:00:00+00:00", by="cli")
    )
    assert llm.chat([ChatMessage("user", "Hi")]).model_id == "llm_twin-v3"
    assert asked == ["gemma-3-270m-twin", "llm_twin-v3"]
    assert container.model_serving().current().source == "recorded"
    container.close()


def test_an_explicit_llm_model_id_is_sent_as_it_is(tmp_path):
    settings = _settings(tmp_path, LLM_MODEL_ID="gpt-4o-mini")
    JsonServedModelStore(bootstrap.served_model_file(settings)).write(
        ServedModelChoice(spec="llm_twin:v3", model_id="llm_twin-v3", chosen_at="2026-01-01T00:00:00+00:00")
    )
    llm = bootstrap.build_llm_client(settings)
    asked = _asked_models(llm)
    llm.chat([ChatMessage("user", "Hi")])
    assert asked == ["gpt-4o-mini"] and llm.model_id == "gpt-4o-mini"
    assert bootstrap.served_model(settings).source == "LLM_MODEL_ID"
    assert LocalLLMServer.from_options(bootstrap.local_engine_options(settings)).served_model_id == "gpt-4o-mini"
