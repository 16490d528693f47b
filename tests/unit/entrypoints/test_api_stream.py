"""`POST /rag/stream` with its dependencies swapped through `Depends` overrides (no stores, no models)."""

import asyncio
import json
import threading

import pytest
from fastapi.testclient import TestClient

from llm_engineering.application.errors import LLMTimeoutError, LLMUnavailableError
from llm_engineering.application.rag.answering import AnswerGenerator
from llm_engineering.bootstrap import Container
from llm_engineering.domain.exceptions import VectorStoreUnavailableError
from llm_engineering.entrypoints.api import create_app
from llm_engineering.entrypoints.api.dependencies import get_answer_generator, get_retriever
from llm_engineering.entrypoints.api.streaming import pull_in_threads, sse_event
from llm_engineering.settings import load_settings
from tests.unit.application.rag.fakes import OnePassageRetriever, ScriptedLLM, StreamingLLM
from tests.waiting import CEILING_S

REPLY = ["Rerank ", "before you ", "prompt [1]."]


@pytest.fixture
def make_client(tmp_path):
    def build(retriever=None, llm=None, **settings_overrides):
        settings = load_settings(env_file=tmp_path / "none.env", RAG_MAX_QUERY_CHARS=50, **settings_overrides)
        app = create_app(settings, container=Container(settings), warm_up_on_start=False)
        chosen_retriever = retriever or OnePassageRetriever()
        chosen_llm = llm or StreamingLLM(REPLY)
        app.dependency_overrides[get_retriever] = lambda: lambda: chosen_retriever
        app.dependency_overrides[get_answer_generator] = lambda: lambda: AnswerGenerator(chosen_llm)
        return TestClient(app), chosen_retriever, chosen_llm

    return build


def parse_events(text: str) -> list[tuple[str, dict]]:
    """(event name, data) of each server-sent event, checking the wire format: two lines, JSON on one."""
    events = []
    assert text.endswith("\n\n")
    for block in text.removesuffix("\n\n").split("\n\n"):
        name_line, data_line = block.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        events.append((name_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))))
    return events


def test_events_come_in_order_and_end_with_the_body_of_post_rag(make_client):
    client, retriever, llm = make_client(RAG_TOP_K=4, RAG_EXPAND_TO_N_QUERIES=2)
    response = client.post("/rag/stream", json={"query": "  Why rerank?  ", "max_new_tokens": 12})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache" and response.headers["x-accel-buffering"] == "no"
    events = parse_events(response.text)
    assert [name for name, _ in events] == ["sources", "token", "token", "token", "done"]

    sources, done = events[0][1], events[-1][1]
    assert set(sources) == {"sources", "retrieval", "model"} and sources["model"] == "scripted"
    assert sources["sources"][0]["link"] == "https://quillon.example/rerank" and sources["sources"][0]["number"] == 1
    assert sources["retrieval"] == {"embedding_model_id": "fake", "reranker": "fake"}
    assert [data for name, data in events if name == "token"] == [{"text": piece} for piece in REPLY]
    assert set(done) == {"answer", "sources", "authorship", "metadata"}
    assert done["answer"] == "Rerank before you prompt [1]." and done["sources"] == sources["sources"]
    assert retriever.calls == [("Why rerank?", 4, 2)] and llm.parameters[0].max_new_tokens == 12

    plain, _, _ = make_client(RAG_TOP_K=4, RAG_EXPAND_TO_N_QUERIES=2, llm=ScriptedLLM("".join(REPLY)))
    expected = plain.post("/rag", json={"query": "Why rerank?", "max_new_tokens": 12}).json()
    assert done["answer"] == expected["answer"] and done["sources"][0]["link"] == expected["sources"][0]["link"]
    assert set(done["metadata"]) == set(expected["metadata"])
    generation, plain_generation = done["metadata"]["generation"], expected["metadata"]["generation"]
    assert set(generation) == set(plain_generation)
    for key in ("model_id", "prompt_tokens", "completion_tokens", "total_tokens", "answer_source", "guard", "cleanup"):
        assert generation[key] == plain_generation[key], key


def test_a_client_that_cannot_stream_sends_one_token_event(make_client):
    client, _, _ = make_client(llm=ScriptedLLM("Rerank before you prompt [1]."))
    events = parse_events(client.post("/rag/stream", json={"query": "q"}).text)
    assert [name for name, _ in events] == ["sources", "token", "done"]
    assert events[1][1] == {"text": "Rerank before you prompt [1]."} == {"text": events[2][1]["answer"]}


def test_the_done_event_carries_the_final_text_when_cleanup_changed_it(make_client):
    client, _, _ = make_client(llm=StreamingLLM(["Rerank before ", "you prompt [1] [7]."]))
    events = parse_events(client.post("/rag/stream", json={"query": "q"}).text)
    streamed = "".join(data["text"] for name, data in events if name == "token")
    done = events[-1][1]
    assert streamed == "Rerank before you prompt [1] [7]."
    assert done["answer"] == "Rerank before you prompt [1]."
    assert done["metadata"]["generation"]["cleanup"] == ["removed citations of passages not in the prompt: [7]"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": ""}, "query"),
        ({"query": " \n "}, "query"),
        ({"query": "x" * 51}, "query"),
        ({"query": "q", "k": 51}, "k"),
        ({"query": "q", "top_p": 2}, "top_p"),
        ({"query": "q", "extra": True}, "extra"),
    ],
)
def test_bad_bodies_are_422_before_any_event(make_client, body, field):
    client, retriever, _ = make_client()
    response = client.post("/rag/stream", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert field in {str(part) for error in response.json()["detail"] for part in error["loc"]}
    assert retriever.calls == []


def test_retrieval_failures_are_http_errors_as_on_post_rag(make_client):
    client, _, _ = make_client(retriever=OnePassageRetriever(VectorStoreUnavailableError("no Qdrant on 6333")))
    response = client.post("/rag/stream", json={"query": "q"})
    assert response.status_code == 503
    assert response.json()["dependency"] == "vector store (Qdrant)"
    client, _, _ = make_client(retriever=OnePassageRetriever(ValueError("the query is empty")))
    assert client.post("/rag/stream", json={"query": "q"}).status_code == 422


def test_an_llm_failure_midway_becomes_an_error_event_with_503(make_client):
    client, _, _ = make_client(llm=StreamingLLM(["Rerank ", LLMUnavailableError("connection reset by peer")]))
    response = client.post("/rag/stream", json={"query": "q"})
    assert response.status_code == 200
    events = parse_events(response.text)
    assert [name for name, _ in events] == ["sources", "token", "error"]
    assert events[-1][1] == {"status": 503, "detail": "LLM service unavailable: connection reset by peer"}


def test_an_llm_failure_before_the_first_token_has_the_detail_of_post_rag(make_client):
    client, _, _ = make_client(llm=ScriptedLLM(LLMTimeoutError("LLM server timed out")))
    events = parse_events(client.post("/rag/stream", json={"query": "q"}).text)
    assert [name for name, _ in events] == ["sources", "error"]
    plain, _, _ = make_client(llm=ScriptedLLM(LLMTimeoutError("LLM server timed out")))
    assert events[-1][1] == {"status": 503, "detail": plain.post("/rag", json={"query": "q"}).json()["detail"]}


def test_bugs_are_500_events(make_client):
    client, _, _ = make_client(llm=StreamingLLM(["Rerank ", KeyError("bug")]))
    events = parse_events(client.post("/rag/stream", json={"query": "q"}).text)
    assert events[-1] == ("error", {"status": 500, "detail": "KeyError: 'bug'"})


def test_the_deadline_ends_the_stream_with_504_and_stops_the_generation(make_client):
    llm = StreamingLLM(["piece "] * 50, delay_s=0.05)
    client, _, _ = make_client(llm=llm, API_REQUEST_TIMEOUT_S=0.5, LLM_TIMEOUT_S=0.5, LLM_MAX_RETRIES=0)
    events = parse_events(client.post("/rag/stream", json={"query": "q"}).text)
    assert events[0][0] == "sources" and events[1][0] == "token"
    assert events[-1][0] == "error" and events[-1][1]["status"] == 504
    assert events[-1][1]["detail"].startswith("the request took longer than")
    assert 1 < len(events) < 50
    assert llm.closed.wait(CEILING_S)


def test_a_consumer_that_goes_away_closes_the_iterator_once_its_running_step_returns():
    release, closed = threading.Event(), threading.Event()

    def items():  # type: ignore[no-untyped-def]
        try:
            yield 1
            release.wait(CEILING_S)  # a `next()` blocked on the LLM, until the test releases it
            yield 2
        except GeneratorExit:
            closed.set()
            raise

    async def consume() -> None:
        events = pull_in_threads(items(), timeout_s=30)
        assert await anext(events) == 1
        pending = asyncio.create_task(anext(events))
        await asyncio.sleep(0.1)
        pending.cancel()  # what Starlette does when the client disconnects
        with pytest.raises(asyncio.CancelledError):
            await pending
        assert not closed.is_set()  # the step still runs in its thread...
        release.set()
        assert await asyncio.to_thread(closed.wait, CEILING_S)  # ...then the iterator is closed

    asyncio.run(consume())


def test_sse_events_hold_one_line_of_json():
    assert sse_event("token", {"text": "a\nb é"}) == 'event: token\ndata: {"text":"a\\nb é"}\n\n'
