"""Streamed answers: the same prompt and the same final answer as `generate`, as events."""

import uuid
from typing import Any

import pytest

from llm_engineering.application.errors import LLMUnavailableError
from llm_engineering.application.llm.client import ChatMessage, StreamingLLMClient, stream_chat
from llm_engineering.application.rag.answering import (
    AnswerGenerator,
    StreamedAnswer,
    StreamedSources,
    StreamedText,
)
from llm_engineering.application.rag.retriever import RetrievalResult, ScoredChunk
from llm_engineering.application.rag.service import answer_query, stream_answer_query
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk
from tests.unit.application.rag.fakes import ScriptedLLM, StreamingLLM

PASSAGE = "Rerank the retrieved passages before you prompt the model, so the best ones come first."
REPLY = ["Rerank the retrieved ", "passages before you prompt ", "the model, so the best ones come first [1]."]


def _retrieval() -> RetrievalResult:
    chunk = EmbeddedArticleChunk(
        content=PASSAGE,
        embedding=None,
        platform="blog",
        document_id=uuid.uuid4(),
        author_id=uuid.uuid4(),
        author_full_name="Mara Quillon",
        link="https://quillon.example/rerank",
    )
    return RetrievalResult(
        chunks=[ScoredChunk(chunk, 0.9)], trace={"embedding_model_id": "fake", "reranker": "fake", "query": "q"}
    )


def _without_latency(trace: dict) -> dict:
    return {
        key: _without_latency(value) if isinstance(value, dict) else value
        for key, value in trace.items()
        if key != "latency_s"
    }


def test_stream_sends_sources_then_the_pieces_then_what_generate_returns():
    retrieval = _retrieval()
    streaming, plain = StreamingLLM(REPLY), ScriptedLLM("".join(REPLY))
    events = list(AnswerGenerator(streaming).stream("Why rerank?", retrieval))
    expected = AnswerGenerator(plain).generate("Why rerank?", retrieval)

    assert streaming.prompts == plain.prompts  # the same prompt
    assert [type(event) for event in events] == [
        StreamedSources,
        StreamedText,
        StreamedText,
        StreamedText,
        StreamedAnswer,
    ]
    assert [event.text for event in events[1:-1]] == REPLY
    sources, final = events[0], events[-1].answer
    assert sources.sources == expected.sources and sources.retrieval is retrieval.trace
    assert final.answer == expected.answer == "".join(REPLY)
    assert final.sources == expected.sources
    assert _without_latency(final.trace) == _without_latency(expected.trace)
    assert final.trace["generation"]["answer_source"] == "model" and final.trace["generation"]["guard"] == "passed"


def test_a_client_without_streaming_answers_in_one_piece():
    assert not isinstance(ScriptedLLM("x"), StreamingLLMClient)
    assert isinstance(StreamingLLM(["x"]), StreamingLLMClient)
    events = list(AnswerGenerator(ScriptedLLM("".join(REPLY))).stream("Why rerank?", _retrieval()))
    assert [type(event) for event in events] == [StreamedSources, StreamedText, StreamedAnswer]
    assert events[1].text == "".join(REPLY)


def test_the_fallback_returns_the_chat_response_after_its_text():
    deltas = stream_chat(ScriptedLLM("whole reply"), [ChatMessage("user", "hi")])
    assert next(deltas) == "whole reply"
    with pytest.raises(StopIteration) as finished:
        next(deltas)
    assert finished.value.value.text == "whole reply" and finished.value.value.completion_tokens == 3


def test_the_final_answer_replaces_the_pieces_when_the_guard_or_cleanup_changes_them():
    # Too short to say anything: the guard answers with the author's own sentence instead.
    events = list(AnswerGenerator(StreamingLLM(["Yes", "."])).stream("Why rerank?", _retrieval()))
    final = events[-1].answer
    assert "".join(event.text for event in events if isinstance(event, StreamedText)) == "Yes."
    assert final.trace["generation"]["answer_source"] == "extractive"
    assert final.answer != "Yes." and "Rerank the retrieved passages" in final.answer


def test_closing_the_stream_early_closes_the_llm_stream():
    llm = StreamingLLM(REPLY)
    events = AnswerGenerator(llm).stream("Why rerank?", _retrieval())
    assert isinstance(next(events), StreamedSources)
    assert isinstance(next(events), StreamedText)
    events.close()
    assert llm.closed.is_set()


def test_llm_errors_propagate_after_the_pieces_already_sent():
    events = AnswerGenerator(StreamingLLM(["Rerank ", LLMUnavailableError("connection reset")])).stream(
        "q", _retrieval()
    )
    assert isinstance(next(events), StreamedSources)
    assert next(events).text == "Rerank "
    with pytest.raises(LLMUnavailableError, match="connection reset"):
        next(events)


class RecordingTracer:
    """Records span names and annotations; `trace_id` is known only inside the `rag` span, as with Opik."""

    def __init__(self):
        self.spans: list[str] = []
        self.annotations: list[dict[str, Any]] = []
        self.depth = 0

    def call(self, name, function, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.spans.append(name)
        result = function(*args, **kwargs)
        if name != "rag" or not hasattr(result, "__next__"):
            return result

        def inside():  # type: ignore[no-untyped-def]
            self.depth += 1
            try:
                yield from result
            finally:
                self.depth -= 1

        return inside()

    def annotate(self, metadata, input=None, output=None):  # type: ignore[no-untyped-def]
        self.annotations.append({"metadata": metadata, "input": input, "output": output})

    @property
    def enabled(self) -> bool:
        return True

    def trace_id(self) -> str | None:
        return "trace-1" if self.depth else None

    def record_feedback(self, trace_id, name, value, reason=None) -> bool:  # type: ignore[no-untyped-def]
        return False


class FakeRetriever:
    def search_with_trace(self, query, k, expand_to_n_queries):  # type: ignore[no-untyped-def]
        return _retrieval()


def test_the_streamed_use_case_traces_as_answer_query_does():
    tracer = RecordingTracer()
    events = list(
        stream_answer_query(
            FakeRetriever, lambda: AnswerGenerator(StreamingLLM(REPLY)), "Why rerank?", 3, 1, None, tracer
        )
    )
    assert tracer.spans == ["rag", "retrieval", "generation"]
    final = events[-1].answer
    assert final.trace["trace_id"] == "trace-1" and final.trace["latency_s"] >= 0
    (annotation,) = tracer.annotations
    assert annotation["input"] == {"query": "Why rerank?"}
    assert annotation["output"]["answer"] == final.answer
    assert annotation["metadata"]["completion_tokens"] == 3 and annotation["metadata"]["answer_source"] == "model"

    plain = answer_query(FakeRetriever, lambda: AnswerGenerator(ScriptedLLM("".join(REPLY))), "Why rerank?", 3, 1, None)
    assert final.answer == plain.answer and set(final.trace) == set(plain.trace) | {"trace_id"}


def test_nothing_runs_before_the_first_event_is_asked_for():
    def no_retriever():  # type: ignore[no-untyped-def]
        raise AssertionError("built too early")

    stream_answer_query(no_retriever, lambda: AnswerGenerator(StreamingLLM(REPLY)), "q", 3, 1, None)
