"""`POST /rag`: answer a query in the author's voice from their own writing; `POST /retrieve`: only the
passages (never calls the LLM)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException
from loguru import logger
from starlette.concurrency import run_in_threadpool

from llm_engineering.application.ports import Tracer
from llm_engineering.application.rag.answering import AnswerGenerator
from llm_engineering.application.rag.retriever import ContextRetriever, RetrievalResult
from llm_engineering.application.rag.service import answer_query
from llm_engineering.bootstrap import generation_parameters
from llm_engineering.entrypoints.api.dependencies import (
    get_answer_generator,
    get_plain_retriever,
    get_retriever,
    get_settings_dependency,
    get_tracer,
)
from llm_engineering.entrypoints.api.errors import translate_error
from llm_engineering.entrypoints.api.schemas import (
    Passage,
    RAGRequest,
    RAGResponse,
    RetrieveRequest,
    RetrieveResponse,
    check_query_length,
)
from llm_engineering.settings import Settings

router = APIRouter(tags=["rag"])
T = TypeVar("T")


@router.post("/rag", response_model=RAGResponse)
async def rag(
    body: RAGRequest,
    settings: Annotated[Settings, Depends(get_settings_dependency)],
    build_retriever: Annotated[Callable[[], ContextRetriever], Depends(get_retriever)],
    build_generator: Annotated[Callable[[], AnswerGenerator], Depends(get_answer_generator)],
    tracer: Annotated[Tracer, Depends(get_tracer)],
) -> RAGResponse:
    """Answer `query` from the author's writing; returns the answer, its sources and a trace."""
    check_query_length(body, settings.RAG_MAX_QUERY_CHARS)
    parameters = generation_parameters(settings).merged(
        max_new_tokens=body.max_new_tokens, temperature=body.temperature, top_p=body.top_p
    )
    k = body.k or settings.RAG_TOP_K
    n = body.expand_to_n_queries or settings.RAG_EXPAND_TO_N_QUERIES
    answer = await _run(settings, answer_query, build_retriever, build_generator, body.query, k, n, parameters, tracer)
    return RAGResponse(answer=answer.answer, sources=answer.sources, metadata=answer.trace)


@router.post("/retrieve", response_model=RetrieveResponse)
async def retrieve(
    body: RetrieveRequest,
    settings: Annotated[Settings, Depends(get_settings_dependency)],
    build_retriever: Annotated[Callable[[], ContextRetriever], Depends(get_plain_retriever)],
) -> RetrieveResponse:
    """The k passages of the author's writing closest to `query`, with their documents; no LLM is called."""
    check_query_length(body, settings.RAG_MAX_QUERY_CHARS)
    k = body.k or settings.RAG_TOP_K

    def search() -> RetrievalResult:
        return build_retriever().search_with_trace(body.query, k=k, expand_to_n_queries=1)

    result = await _run(settings, search)
    passages = [
        Passage(
            number=number,
            chunk_id=str(item.chunk.id),
            document_id=str(item.chunk.document_id),
            score=round(item.score, 4),
            content=item.chunk.content,
        )
        for number, item in enumerate(result.chunks, start=1)
    ]
    return RetrieveResponse(passages=passages, sources=result.sources(), metadata={"retrieval": result.trace})


async def _run(settings: Settings, function: Callable[..., T], *args: Any) -> T:
    """Run blocking work in the thread pool under the request deadline; map failures to HTTP answers."""
    try:
        return await asyncio.wait_for(run_in_threadpool(function, *args), timeout=settings.API_REQUEST_TIMEOUT_S)
    except TimeoutError:
        raise HTTPException(
            status_code=504, detail=f"the request took longer than {settings.API_REQUEST_TIMEOUT_S:.0f}s"
        ) from None
    except ValueError as error:
        raise HTTPException(status_code=422, detail=str(error)) from error
    except Exception as error:
        unavailable = translate_error(error)
        if unavailable is None:
            logger.exception("Request failed")
            raise HTTPException(status_code=500, detail=f"{type(error).__name__}: {error}") from error
        logger.warning("Request failed: {}", unavailable)
        raise unavailable from error
