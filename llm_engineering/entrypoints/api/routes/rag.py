"""`POST /rag`: answer a query in the author's voice from their own writing; `POST /rag/stream`: the same
answer as server-sent events while it is written; `POST /retrieve`: only the passages (never calls the LLM)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse
from loguru import logger

from llm_engineering.application.errors import RequestCancelledError
from llm_engineering.application.llm.client import GenerationParameters
from llm_engineering.application.ports import Tracer
from llm_engineering.application.rag.answering import (
    AnswerEvent,
    AnswerGenerator,
    RAGAnswer,
    StreamedAnswer,
    StreamedSources,
    StreamedText,
)
from llm_engineering.application.rag.citations import source_numbers
from llm_engineering.application.rag.retriever import ContextRetriever, RetrievalResult
from llm_engineering.application.rag.service import answer_query, stream_answer_query
from llm_engineering.entrypoints.api.blocking import LLMSlots, run_blocking
from llm_engineering.entrypoints.api.dependencies import (
    get_answer_generator,
    get_generation_parameters,
    get_llm_slots,
    get_plain_retriever,
    get_retriever,
    get_settings_dependency,
    get_tracer,
)
from llm_engineering.entrypoints.api.errors import DependencyUnavailable, translate_error
from llm_engineering.entrypoints.api.schemas import (
    DEPENDENCY_FAILURES,
    Authorship,
    Passage,
    RAGRequest,
    RAGResponse,
    RetrieveRequest,
    RetrieveResponse,
    check_query_length,
)
from llm_engineering.entrypoints.api.streaming import EventStreamResponse, pull_in_threads, sse_event
from llm_engineering.entrypoints.api.strict_json import StrictJSONRoute
from llm_engineering.settings import Settings

router = APIRouter(tags=["rag"], route_class=StrictJSONRoute)
T = TypeVar("T")
# nginx's "client closed request": logged for a request whose client left; nobody reads the body.
CLIENT_CLOSED_REQUEST = 499


@router.post("/rag", response_model=RAGResponse, responses=DEPENDENCY_FAILURES)
async def rag(
    body: RAGRequest,
    request: Request,
    settings: Annotated[Settings, Depends(get_settings_dependency)],
    defaults: Annotated[GenerationParameters, Depends(get_generation_parameters)],
    build_retriever: Annotated[Callable[[], ContextRetriever], Depends(get_retriever)],
    build_generator: Annotated[Callable[[], AnswerGenerator], Depends(get_answer_generator)],
    tracer: Annotated[Tracer, Depends(get_tracer)],
    slots: Annotated[LLMSlots, Depends(get_llm_slots)],
) -> RAGResponse:
    """Answer `query` from the author's writing; returns the answer, its sources and a trace."""
    check_query_length(body, settings.RAG_MAX_QUERY_CHARS)
    parameters = defaults.merged(max_new_tokens=body.max_new_tokens, temperature=body.temperature, top_p=body.top_p)
    k = body.k or settings.RAG_TOP_K
    n = body.expand_to_n_queries or settings.RAG_EXPAND_TO_N_QUERIES
    answer = await _run(
        settings,
        request,
        slots,
        answer_query,
        build_retriever,
        build_generator,
        body.query,
        k,
        n,
        parameters,
        tracer,
    )
    return _response(answer)


def _response(answer: RAGAnswer) -> RAGResponse:
    """The body of `POST /rag` (and of the stream's `done` event) for an answer."""
    authorship = None
    if answer.authorship is not None:
        made = answer.authorship
        authorship = Authorship(written_by=made.written_by, model=made.model, reason=made.reason)
    return RAGResponse(answer=answer.answer, sources=answer.sources, authorship=authorship, metadata=answer.trace)


STREAM_DESCRIPTION = """`text/event-stream`, each event `event: <name>` + `data: <one-line JSON>`:
`sources` {sources, retrieval, model} once (`model`: the model asked), `token` {text} per piece of the
model's raw reply (a draft: not yet checked), then `done` {answer, sources, authorship, metadata} (the body
of `POST /rag`; its `answer` replaces the tokens joined: cleanup may tidy the text, and when the answer
guard rejects the reply, `authorship.written_by` is `author_passages` and `authorship.reason` says why) or `error` {status, detail} (503/504/422/500) when generation fails.
Failures before the `sources` event (bad body, query too long, building the retriever, retrieval) are plain
HTTP errors, as on `POST /rag`."""


@router.post(
    "/rag/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": STREAM_DESCRIPTION}, **DEPENDENCY_FAILURES},
)
async def rag_stream(
    body: RAGRequest,
    settings: Annotated[Settings, Depends(get_settings_dependency)],
    defaults: Annotated[GenerationParameters, Depends(get_generation_parameters)],
    build_retriever: Annotated[Callable[[], ContextRetriever], Depends(get_retriever)],
    build_generator: Annotated[Callable[[], AnswerGenerator], Depends(get_answer_generator)],
    tracer: Annotated[Tracer, Depends(get_tracer)],
    slots: Annotated[LLMSlots, Depends(get_llm_slots)],
) -> StreamingResponse:
    """`POST /rag`'s answer as server-sent events, token by token (see the 200 response for the events)."""
    check_query_length(body, settings.RAG_MAX_QUERY_CHARS)
    parameters = defaults.merged(max_new_tokens=body.max_new_tokens, temperature=body.temperature, top_p=body.top_p)
    k = body.k or settings.RAG_TOP_K
    n = body.expand_to_n_queries or settings.RAG_EXPAND_TO_N_QUERIES
    events = pull_in_threads(
        stream_answer_query(build_retriever, build_generator, body.query, k, n, parameters, tracer),
        timeout_s=settings.API_REQUEST_TIMEOUT_S,
        slots=slots,
    )
    try:  # up to the sources event, failures are HTTP errors as on POST /rag
        first = await anext(events)
    except Exception as error:
        raise _failure(settings, error) from error
    # A client that leaves (the chat's Stop button) closes `events`: the LLM call is cancelled with it.
    return EventStreamResponse(_sse(settings, first, events), closes=(events,))


async def _sse(settings: Settings, first: AnswerEvent, events: AsyncIterator[AnswerEvent]) -> AsyncGenerator[str, None]:
    """The events as server-sent events; a failure becomes an `error` event that ends the stream."""
    try:
        yield _as_sse(first)
        async for event in events:
            yield _as_sse(event)
    except Exception as error:  # noqa: BLE001 - the status is already sent: the failure becomes an event
        failure = _failure(settings, error)
        if isinstance(failure, HTTPException):
            yield sse_event("error", {"status": failure.status_code, "detail": failure.detail})
        else:
            yield sse_event("error", {"status": 503, "detail": str(failure)})


def _as_sse(event: AnswerEvent) -> str:
    if isinstance(event, StreamedText):
        return sse_event("token", {"text": event.text})
    if isinstance(event, StreamedSources):
        return sse_event("sources", {"sources": event.sources, "retrieval": event.retrieval, "model": event.model})
    if isinstance(event, StreamedAnswer):
        return sse_event("done", _response(event.answer))
    raise TypeError(f"not an answer event: {event!r}")


@router.post("/retrieve", response_model=RetrieveResponse, responses=DEPENDENCY_FAILURES)
async def retrieve(
    body: RetrieveRequest,
    request: Request,
    settings: Annotated[Settings, Depends(get_settings_dependency)],
    build_retriever: Annotated[Callable[[], ContextRetriever], Depends(get_plain_retriever)],
) -> RetrieveResponse:
    """The k passages of the author's writing closest to `query`, with their documents; no LLM is called."""
    check_query_length(body, settings.RAG_MAX_QUERY_CHARS)
    k = body.k or settings.RAG_TOP_K

    def search() -> RetrievalResult:
        return build_retriever().search_with_trace(body.query, k=k, expand_to_n_queries=1)

    result = await _run(settings, request, None, search)
    sources = source_numbers(result.chunks)
    passages = [
        Passage(
            number=number,
            source=sources[str(item.chunk.id)],
            chunk_id=str(item.chunk.id),
            document_id=str(item.chunk.document_id),
            score=round(item.score, 4),
            content=item.chunk.content,
        )
        for number, item in enumerate(result.chunks, start=1)
    ]
    return RetrieveResponse(passages=passages, sources=result.sources(), metadata={"retrieval": result.trace})


async def _run(
    settings: Settings, request: Request, slots: LLMSlots | None, function: Callable[..., T], *args: Any
) -> T:
    """Run blocking work in a worker thread (an LLM slot's, with `slots`) under the request deadline, cancelled
    when the client leaves; map failures to HTTP answers."""
    try:
        return await run_blocking(
            function, *args, timeout_s=settings.API_REQUEST_TIMEOUT_S, slots=slots, request=request
        )
    except Exception as error:
        if isinstance(error, RequestCancelledError) and slots is not None:
            logger.info("client left; generation cancelled")
        raise _failure(settings, error) from error


def _failure(settings: Settings, error: Exception) -> HTTPException | DependencyUnavailable:
    """The HTTP answer to a failure: 504 past the deadline, 422 bad input, 503 naming a dependency, else 500."""
    if isinstance(error, TimeoutError):
        return HTTPException(
            status_code=504, detail=f"the request took longer than {settings.API_REQUEST_TIMEOUT_S:.0f}s"
        )
    if isinstance(error, RequestCancelledError):
        return HTTPException(status_code=CLIENT_CLOSED_REQUEST, detail=str(error))
    if isinstance(error, ValueError):
        return HTTPException(status_code=422, detail=str(error))
    unavailable = translate_error(error)
    if unavailable is None:
        logger.opt(exception=error).error("Request failed")
        return HTTPException(status_code=500, detail=f"{type(error).__name__}: {error}")
    logger.warning("Request failed: {}", unavailable)
    return unavailable
