"""The RAG use case: retrieve the author's passages for a query, then generate the answer from them
(`answer_query`), or stream it as it is written (`stream_answer_query`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import closing

from llm_engineering.application.llm.client import GenerationParameters
from llm_engineering.application.ports import NoTracing, Tracer
from llm_engineering.application.rag.answering import AnswerEvent, AnswerGenerator, RAGAnswer, StreamedAnswer
from llm_engineering.application.rag.retriever import ContextRetriever, RetrievalResult


def answer_query(
    build_retriever: Callable[[], ContextRetriever],
    build_generator: Callable[[], AnswerGenerator],
    query: str,
    k: int,
    expand_to_n_queries: int,
    parameters: GenerationParameters,
    tracer: Tracer | None = None,
) -> RAGAnswer:
    """Retrieve `k` passages (with up to `expand_to_n_queries` rewordings), then answer from them.

    The collaborators come as thunks so that building them (loading a model, opening a store) happens in
    the caller's worker thread and inside the trace. The trace gets what the book logs: model ids, token
    counts and latency. Errors propagate as the typed errors of the stores and the LLM.
    """
    tracer = tracer or NoTracing()

    def answer() -> RAGAnswer:
        started = time.perf_counter()
        retriever = build_retriever()
        retrieval: RetrievalResult = tracer.call(
            "retrieval", retriever.search_with_trace, query, k=k, expand_to_n_queries=expand_to_n_queries
        )
        result: RAGAnswer = tracer.call("generation", build_generator().generate, query, retrieval, parameters)
        return _annotated(tracer, query, retrieval, result, started)

    return tracer.call("rag", answer)


def stream_answer_query(
    build_retriever: Callable[[], ContextRetriever],
    build_generator: Callable[[], AnswerGenerator],
    query: str,
    k: int,
    expand_to_n_queries: int,
    parameters: GenerationParameters,
    tracer: Tracer | None = None,
) -> Iterator[AnswerEvent]:
    """`answer_query` as it happens: `StreamedSources` once retrieval is done, a `StreamedText` per delta of
    the model's reply, then `StreamedAnswer` holding what `answer_query` returns (same trace, same spans).

    Nothing runs until the first `next()`; each `next()` blocks (call it in a worker thread). Closing the
    iterator early stops the generation. Errors propagate as in `answer_query`.
    """
    tracer = tracer or NoTracing()

    def answer() -> Iterator[AnswerEvent]:
        started = time.perf_counter()
        retriever = build_retriever()
        retrieval: RetrievalResult = tracer.call(
            "retrieval", retriever.search_with_trace, query, k=k, expand_to_n_queries=expand_to_n_queries
        )
        with closing(tracer.call("generation", build_generator().stream, query, retrieval, parameters)) as events:
            for event in events:
                if isinstance(event, StreamedAnswer):
                    event = StreamedAnswer(_annotated(tracer, query, retrieval, event.answer, started))
                yield event

    yield from tracer.call("rag", answer)


def _annotated(tracer: Tracer, query: str, retrieval: RetrievalResult, result: RAGAnswer, started: float) -> RAGAnswer:
    """`result` with the total latency (and the trace id, when traced); the trace gets what the book logs."""
    generation = result.trace["generation"]
    result.trace["latency_s"] = round(time.perf_counter() - started, 4)
    tracer.annotate(
        {
            "model_id": generation["model_id"],
            "embedding_model_id": retrieval.trace["embedding_model_id"],
            "reranker": retrieval.trace["reranker"],
            "temperature": generation["temperature"],
            "prompt_tokens": generation["prompt_tokens"],
            "completion_tokens": generation["completion_tokens"],
            "total_tokens": generation["total_tokens"],
            "answer_source": generation.get("answer_source"),
            "latency_s": result.trace["latency_s"],
        },
        input={"query": query},
        output={"answer": result.answer, "sources": [source.link for source in result.sources]},
    )
    trace_id = tracer.trace_id()
    if trace_id:  # lets the caller attach feedback (POST /feedback) to this answer's trace
        result.trace["trace_id"] = trace_id
    return result
