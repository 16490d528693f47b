"""Streaming through a real OpenAI-compatible server (`transformers serve` with a tiny model): the client's
`stream_chat` and `POST /rag/stream` end to end (retrieval faked, the LLM real); and the streamed answer's
trace through the real `opik` client against the stand-in Opik backend."""

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from opik.api_objects.opik_client import reset_global_client

from llm_engineering.application.llm.client import ChatMessage, GenerationParameters
from llm_engineering.application.rag.answering import AnswerGenerator
from llm_engineering.bootstrap import Container
from llm_engineering.entrypoints.api import create_app
from llm_engineering.entrypoints.api.dependencies import get_answer_generator, get_retriever
from llm_engineering.infrastructure import opik_tracing
from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient
from llm_engineering.settings import get_settings, load_settings
from tests.fixtures.opik_collector import OpikCollector, running_opik_collector
from tests.unit.application.rag.fakes import OnePassageRetriever, StreamingLLM

pytestmark = pytest.mark.integration


def _events(text: str) -> list[tuple[str, dict]]:
    return [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
        for block in text.strip().split("\n\n")
    ]


def _app(tmp_path, llm) -> TestClient:  # type: ignore[no-untyped-def]
    settings = load_settings(env_file=tmp_path / "none.env")
    app = create_app(settings, container=Container(settings), warm_up_on_start=False)
    app.dependency_overrides[get_retriever] = lambda: (
        lambda: OnePassageRetriever(content="Rerank the retrieved passages before you prompt the model.")
    )
    app.dependency_overrides[get_answer_generator] = lambda: lambda: AnswerGenerator(llm)
    return TestClient(app)


def test_the_client_streams_several_deltas_with_the_servers_usage(llm_server):
    client = OpenAICompatibleClient(llm_server["base_url"], llm_server["model_id"])
    parameters = GenerationParameters(max_new_tokens=12, temperature=0.0, top_p=1.0)
    stream = client.stream_chat([ChatMessage("user", "write about rag")], parameters)
    deltas = []
    while True:
        try:
            deltas.append(next(stream))
        except StopIteration as finished:
            response = finished.value
            break
    assert len(deltas) > 1
    assert response.text == "".join(deltas)
    assert response.completion_tokens is not None and len(deltas) <= response.completion_tokens <= 12
    assert response.prompt_tokens and response.prompt_tokens > 5
    assert response.finish_reason in {"stop", "length"}
    same = client.chat([ChatMessage("user", "write about rag")], parameters)
    # Greedy: streaming changes the transport, not the answer (the server's streamer drops a trailing
    # incomplete UTF-8 sequence that the one-shot decode shows as U+FFFD; a random model writes such bytes).
    assert same.text.rstrip("\ufffd") == response.text.rstrip("\ufffd")


def test_post_rag_stream_sends_token_events_from_the_real_model(llm_server, tmp_path):
    llm = OpenAICompatibleClient(llm_server["base_url"], llm_server["model_id"])
    response = _app(tmp_path, llm).post(
        "/rag/stream", json={"query": "Why rerank?", "max_new_tokens": 16, "temperature": 0}
    )
    assert response.status_code == 200, response.text
    events = _events(response.text)
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "done", names
    assert names.count("token") > 1
    done = events[-1][1]
    assert done["metadata"]["generation"]["model_id"].startswith(llm_server["model_id"])
    assert done["metadata"]["generation"]["completion_tokens"] >= names.count("token")
    assert done["sources"][0]["link"] == "https://quillon.example/rerank"


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpikCollector]:
    with running_opik_collector() as running:
        monkeypatch.delenv("OPIK_API_KEY", raising=False)
        monkeypatch.setenv("OPIK_URL_OVERRIDE", running.url)
        monkeypatch.setenv("OPIK_PROJECT_NAME", "twin-tests")
        monkeypatch.setenv("OPIK_SENTRY_ENABLE", "false")
        monkeypatch.setenv("OPIK_CHECK_TLS_CERTIFICATE", "false")
        get_settings.cache_clear()
        opik_tracing.reset_tracing_state()
        reset_global_client()  # `opik.track` keeps the client of the first collector it saw
        yield running
        opik_tracing.flush()
        opik_tracing.reset_tracing_state()
        reset_global_client()
        get_settings.cache_clear()


def test_the_streamed_answer_is_traced_like_post_rag(collector: OpikCollector, tmp_path):
    reply = ["Rerank ", "before you prompt, so the best passages come first [1]."]
    events = _events(_app(tmp_path, StreamingLLM(reply)).post("/rag/stream", json={"query": "Why rerank?"}).text)
    trace_id = events[-1][1]["metadata"]["trace_id"]
    opik_tracing.flush()

    trace = collector.traces[trace_id]
    assert trace["name"] == "rag" and trace["input"] == {"query": "Why rerank?"}
    assert trace["output"]["answer"] == events[-1][1]["answer"]
    assert trace["metadata"]["model_id"] == "scripted" and trace["metadata"]["completion_tokens"] == 3
    spans = {span["name"]: span for span in collector.spans if span.get("trace_id") == trace_id}
    assert {"rag", "retrieval", "generation"} <= set(spans)
    assert spans["generation"]["output"] == {"output": "".join(reply)}  # the raw reply, not the events
