"""`POST /rag`: answer a query in the author's voice from their own writing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from loguru import logger
from starlette.concurrency import run_in_threadpool

from llm_engineering.application.ports import Tracer
from llm_engineering.application.rag.answering import AnswerGenerator
from llm_engineering.application.rag.retriever import ContextRetriever
from llm_engineering.application.rag.service import answer_query
from llm_engineering.bootstrap import generation_parameters
from llm_engineering.entrypoints.api.dependencies import (
    get_answer_generator,
    get_retriever,
    get_settings_dependency,
    get_tracer,
)
from llm_engineering.entrypoints.api.errors import translate_error
from llm_engineering.entrypoints.api.schemas import RAGRequest, RAGResponse, check_query_length
from llm_engineering.settings import Settings

router = APIRouter(tags=["rag"])


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
    try:
        answer = await asyncio.wait_for(
            run_in_threadpool(answer_query, build_retriever, build_generator, body.query, k, n, parameters, tracer),
            timeout=settings.API_REQUEST_TIMEOUT_S,
        )
    except TimeoutError:
        raise HTTPException(
            status_code=504, detail=f"the request took longer than {settings.API_REQUEST_TIMEOUT_S:.0f}s"
        ) from None
    except ValueError as error:
        raise HTTPException(status_code=422, detail=str(error)) from error
    except Exception as error:
        unavailable = translate_error(error)
        if unavailable is None:
            logger.exception("RAG request failed")
            raise HTTPException(status_code=500, detail=f"{type(error).__name__}: {error}") from error
        logger.warning("RAG request failed: {}", unavailable)
        raise unavailable from error
    return RAGResponse(answer=answer.answer, sources=answer.sources, metadata=answer.trace)
