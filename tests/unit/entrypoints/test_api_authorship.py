"""`authorship` on `POST /rag` and on the stream's `done` event: who wrote the answer, the model asked, why."""

import json

import pytest
from fastapi.testclient import TestClient

from llm_engineering.application.rag.answering import AnswerGenerator
from llm_engineering.bootstrap import Container
from llm_engineering.entrypoints.api import create_app
from llm_engineering.entrypoints.api.dependencies import get_answer_generator, get_retriever
from llm_engineering.settings import load_settings
from tests.unit.application.rag.fakes import OnePassageRetriever, ScriptedLLM, StreamingLLM
from tests.unit.application.rag.test_authorship import GROUNDED, PASSAGE, UNGROUNDED

QUERY = "Why rerank passages?"


@pytest.fixture
def make_client(tmp_path):
    def build(llm):
        settings = load_settings(env_file=tmp_path / "none.env")
        app = create_app(settings, container=Container(settings), warm_up_on_start=False)
        retriever = OnePassageRetriever(content=PASSAGE)
        app.dependency_overrides[get_retriever] = lambda: lambda: retriever
        app.dependency_overrides[get_answer_generator] = lambda: lambda: AnswerGenerator(llm)
        return TestClient(app)

    return build


def done_event(text: str) -> dict:
    """The data of the stream's `done` event."""
    for block in text.strip().split("\n\n"):
        name, data = block.split("\n")
        if name == "event: done":
            return json.loads(data.removeprefix("data: "))
    raise AssertionError(f"no done event in {text!r}")


def test_rag_says_the_model_wrote_a_reply_that_passed(make_client):
    body = make_client(ScriptedLLM(GROUNDED)).post("/rag", json={"query": QUERY}).json()
    assert body["authorship"] == {"written_by": "model", "model": "scripted", "reason": None}
    assert body["metadata"]["generation"]["guard"] == "passed"  # the trace stays as it was


def test_rag_and_the_stream_say_a_rejected_reply_was_replaced_by_the_authors_sentences(make_client):
    body = make_client(ScriptedLLM(UNGROUNDED)).post("/rag", json={"query": QUERY}).json()
    reason = "The model's reply did not stick to the sources, so these are the author's own sentences from the sources."
    assert body["authorship"] == {"written_by": "author_passages", "model": "scripted", "reason": reason}
    assert body["metadata"]["generation"]["answer_source"] == "extractive"

    streamed = make_client(StreamingLLM([UNGROUNDED[:30], UNGROUNDED[30:]])).post("/rag/stream", json={"query": QUERY})
    done = done_event(streamed.text)
    assert done["authorship"] == body["authorship"] and done["answer"] == body["answer"]


def test_the_openapi_schema_documents_the_field(make_client):
    schema = make_client(ScriptedLLM(GROUNDED)).get("/openapi.json").json()["components"]["schemas"]
    assert "authorship" in schema["RAGResponse"]["properties"]
    assert set(schema["Authorship"]["properties"]) == {"written_by", "model", "reason"}
    assert schema["Authorship"]["properties"]["written_by"]["enum"] == ["model", "author_passages"]
