"""The RAG use case: retrieve the author's passages for a query, then generate the answer from them."""

from __future__ import annotations

import time
from collections.abc import Callable

from llm_engineering.application.llm.client import GenerationParameters
from llm_engineering.application.ports import NoTracing, Tracer
from llm_engineering.application.rag.answering import AnswerGenerator, RAGAnswer
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

    return tracer.call("rag", answer)
