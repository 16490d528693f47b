"""The twin's business service: FastAPI `POST /rag`, `GET /health`, `GET /ready`.

`create_app()` is the composition root. The retriever and the answer generator come in through
`Depends`, built lazily (first request or background warm-up) by a `ServiceContainer`, so importing or
creating the app opens no store and loads no model. Blocking work (embedding, Qdrant, HTTP to the LLM)
runs in the thread pool with a deadline; failures of the LLM or a store answer 503 naming the dependency.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from llm_engineering.application.llm.client import GenerationParameters
from llm_engineering.application.llm.errors import LLMResponseError, LLMUnavailableError
from llm_engineering.domain.exceptions import (
    ImproperlyConfigured,
    VectorStoreOperationError,
    VectorStoreUnavailableError,
    WarehouseOperationError,
    WarehouseUnavailableError,
)
from llm_engineering.infrastructure.opik_tracing import annotate_trace, track
from llm_engineering.settings import Settings, get_settings

if TYPE_CHECKING:
    from llm_engineering.application.llm.client import LLMClient
    from llm_engineering.application.rag.answering import AnswerGenerator, RAGAnswer
    from llm_engineering.application.rag.retriever import ContextRetriever, RetrievalResult

READY_CHECK_TIMEOUT_S = 10.0


# --- Request / response models ---------------------------------------------------------------------------
class RAGRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, description="What to ask or ask for (in the author's voice).")
    k: int | None = Field(default=None, ge=1, le=50, description="Passages in the prompt (default RAG_TOP_K).")
    expand_to_n_queries: int | None = Field(default=None, ge=1, le=10)
    max_new_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is blank")
        return value.strip()


class Source(BaseModel):
    chunk_id: str
    document_id: str
    category: str
    author: str
    platform: str
    link: str | None = None
    score: float


class RAGResponse(BaseModel):
    answer: str
    sources: list[Source]
    metadata: dict[str, Any]


def check_query_length(request: RAGRequest, max_query_chars: int) -> None:
    """422 in FastAPI's own error shape when the query exceeds the configured limit (RAG_MAX_QUERY_CHARS)."""
    if len(request.query) > max_query_chars:
        raise RequestValidationError(
            [
                {
                    "type": "string_too_long",
                    "loc": ("body", "query"),
                    "msg": f"String should have at most {max_query_chars} characters",
                    "input": request.query[:80] + "...",
                    "ctx": {"max_length": max_query_chars},
                }
            ]
        )


# --- Dependencies ----------------------------------------------------------------------------------------
class DependencyUnavailable(Exception):
    """A dependency (named) failed; answered as 503."""

    def __init__(self, dependency: str, detail: str):
        super().__init__(f"{dependency} unavailable: {detail}")
        self.dependency = dependency
        self.detail = detail


class ServiceContainer:
    """Builds the service's collaborators once, on first use, from settings (or from injected factories)."""

    def __init__(
        self,
        settings: Settings,
        llm_factory: Callable[[Settings], LLMClient] | None = None,
        retriever_factory: Callable[[Settings, LLMClient], ContextRetriever] | None = None,
    ):
        self.settings = settings
        self._llm_factory = llm_factory
        self._retriever_factory = retriever_factory
        self._lock = threading.Lock()
        self._llm: LLMClient | None = None
        self._retriever: ContextRetriever | None = None
        self._stores: tuple[Any, Any] | None = None

    def stores(self) -> tuple[Any, Any]:
        with self._lock:
            if self._stores is None:
                from llm_engineering import bootstrap

                self._stores = bootstrap.configure(self.settings)
            return self._stores

    def llm(self) -> LLMClient:
        with self._lock:
            if self._llm is None:
                if self._llm_factory is not None:
                    self._llm = self._llm_factory(self.settings)
                else:
                    from llm_engineering.infrastructure.llm import build_llm_client

                    self._llm = build_llm_client(self.settings)
            return self._llm

    def retriever(self) -> ContextRetriever:
        self.stores()
        llm = self.llm()
        with self._lock:
            if self._retriever is None:
                factory = self._retriever_factory or default_retriever
                self._retriever = factory(self.settings, llm)
            return self._retriever

    def answer_generator(self) -> AnswerGenerator:
        from llm_engineering.application.rag.answering import AnswerGenerator

        return AnswerGenerator(self.llm(), default_generation(self.settings))

    def warm_up(self) -> None:
        """Open the stores and load the embedding model before the first request (errors are only logged)."""
        try:
            retriever = self.retriever()
            retriever.embedder.embed(["warm-up"])
            logger.info("RAG service warmed up (reranker: {})", retriever.reranker.name)
        except Exception as error:  # noqa: BLE001 - reported by /ready and by each request instead
            logger.warning("RAG service warm-up failed: {}", error)

    def close(self) -> None:
        close = getattr(self._llm, "close", None)
        if callable(close):
            close()


def default_generation(settings: Settings) -> GenerationParameters:
    return GenerationParameters(
        max_new_tokens=settings.MAX_NEW_TOKENS_INFERENCE,
        temperature=settings.TEMPERATURE_INFERENCE,
        top_p=settings.TOP_P_INFERENCE,
        repetition_penalty=1.1,
    )


def default_retriever(settings: Settings, llm: LLMClient | None) -> ContextRetriever:
    """The production retriever: shared embedder, reranker per RERANKER, LLM for self-query and expansion.

    With `llm=None` self-query and expansion are skipped (plain-query retrieval, no LLM calls).
    """
    from llm_engineering.application.rag.query_expansion import QueryExpansion
    from llm_engineering.application.rag.reranking import build_reranker
    from llm_engineering.application.rag.retriever import ContextRetriever
    from llm_engineering.application.rag.self_query import SelfQuery
    from llm_engineering.infrastructure.embeddings import get_embedder

    embedder = get_embedder(settings)
    return ContextRetriever(
        embedder=embedder,
        reranker=build_reranker(settings, embedder),
        self_query=SelfQuery(llm),
        query_expansion=QueryExpansion(llm),
    )


def get_container(request: Request) -> ServiceContainer:
    return request.app.state.container


def get_retriever(container: Annotated[ServiceContainer, Depends(get_container)]) -> Callable[[], Any]:
    """A thunk, so the (possibly slow, possibly failing) build runs in the thread pool, not on the loop."""
    return container.retriever


def get_answer_generator(
    container: Annotated[ServiceContainer, Depends(get_container)],
) -> Callable[[], Any]:
    return container.answer_generator


def translate_error(error: Exception) -> DependencyUnavailable | None:
    """Map a failure to the dependency it names, or None if it is not a dependency failure."""
    if isinstance(error, DependencyUnavailable):
        return error
    if isinstance(error, LLMUnavailableError):
        return DependencyUnavailable("LLM service", str(error))
    if isinstance(error, LLMResponseError):
        return DependencyUnavailable("LLM service", f"invalid response: {error}")
    if isinstance(error, WarehouseUnavailableError | WarehouseOperationError):
        return DependencyUnavailable("data warehouse (MongoDB)", str(error))
    if isinstance(error, VectorStoreUnavailableError | VectorStoreOperationError):
        return DependencyUnavailable("vector store (Qdrant)", str(error))
    if isinstance(error, ImproperlyConfigured):
        return DependencyUnavailable("configuration", str(error))
    return None


# --- The RAG call (runs in a worker thread) -------------------------------------------------------------
@track(name="retrieval", tags=["rag"])
def _retrieve(retriever: ContextRetriever, query: str, k: int, n: int) -> RetrievalResult:
    return retriever.search_with_trace(query, k=k, expand_to_n_queries=n)


@track(name="generation", tags=["rag"])
def _generate(generator: AnswerGenerator, query: str, retrieval: RetrievalResult, params: GenerationParameters):
    return generator.generate(query, retrieval, params)


@track(name="rag", tags=["rag"])
def run_rag(
    build_retriever: Callable[[], ContextRetriever],
    build_generator: Callable[[], AnswerGenerator],
    query: str,
    k: int,
    n: int,
    parameters: GenerationParameters,
) -> RAGAnswer:
    """Retrieve, then generate; annotate the trace with what the book logs (model ids, tokens, latency)."""
    started = time.perf_counter()
    retriever = build_retriever()
    retrieval = _retrieve(retriever, query, k, n)
    answer = _generate(build_generator(), query, retrieval, parameters)
    generation = answer.trace["generation"]
    answer.trace["latency_s"] = round(time.perf_counter() - started, 4)
    annotate_trace(
        {
            "model_id": generation["model_id"],
            "embedding_model_id": retrieval.trace["embedding_model_id"],
            "reranker": retrieval.trace["reranker"],
            "temperature": generation["temperature"],
            "prompt_tokens": generation["prompt_tokens"],
            "completion_tokens": generation["completion_tokens"],
            "total_tokens": generation["total_tokens"],
            "latency_s": answer.trace["latency_s"],
        },
        tags=["rag"],
    )
    return answer


# --- App factory -----------------------------------------------------------------------------------------
def create_app(
    settings: Settings | None = None,
    container: ServiceContainer | None = None,
    warm_up: bool = True,
) -> FastAPI:
    """The FastAPI app. Pass `container` (or override the dependencies) to inject other collaborators."""
    settings = settings or get_settings()
    container = container or ServiceContainer(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().run_in_executor(None, container.warm_up) if warm_up else None
        yield
        if task is not None and not task.done():
            task.cancel()
        container.close()

    app = FastAPI(
        title="LLM Twin RAG service",
        version="1.0",
        description="Answers in the author's voice from their own writing (retrieval-augmented generation).",
        lifespan=lifespan,
    )
    app.state.container = container
    app.state.settings = settings

    @app.exception_handler(DependencyUnavailable)
    async def _unavailable(_: Request, error: DependencyUnavailable) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content={"detail": f"{error.dependency} unavailable: {error.detail}", "dependency": error.dependency},
        )

    @app.get("/health")
    async def health() -> dict[str, str]:
        """The process is up (answers even while a slow /rag request runs)."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(container: Annotated[ServiceContainer, Depends(get_container)]) -> JSONResponse:
        """Whether the warehouse, the vector store and the LLM answer; 503 naming what does not."""
        checks = await asyncio.gather(
            _check("warehouse", lambda: container.stores()[0].ping()),
            _check("vector_store", lambda: container.stores()[1].ping()),
            _check("llm", lambda: container.llm().ping()),
        )
        results = dict(checks)
        ok = all(item["ok"] for item in results.values())
        return JSONResponse(
            status_code=200 if ok else 503, content={"status": "ready" if ok else "unavailable", "checks": results}
        )

    @app.post("/rag", response_model=RAGResponse)
    async def rag(
        body: RAGRequest,
        build_retriever: Annotated[Callable[[], Any], Depends(get_retriever)],
        build_generator: Annotated[Callable[[], Any], Depends(get_answer_generator)],
    ) -> RAGResponse:
        """Answer `query` from the author's writing; returns the answer, its sources and a trace."""
        check_query_length(body, settings.RAG_MAX_QUERY_CHARS)
        parameters = default_generation(settings).merged(
            max_new_tokens=body.max_new_tokens, temperature=body.temperature, top_p=body.top_p
        )
        k = body.k or settings.RAG_TOP_K
        n = body.expand_to_n_queries or settings.RAG_EXPAND_TO_N_QUERIES
        try:
            answer = await asyncio.wait_for(
                run_in_threadpool(run_rag, build_retriever, build_generator, body.query, k, n, parameters),
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
        return RAGResponse(answer=answer.answer, sources=answer.sources, metadata=answer.trace)  # type: ignore[arg-type]

    return app


async def _check(name: str, probe: Callable[[], Any]) -> tuple[str, dict[str, Any]]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(run_in_threadpool(probe), timeout=READY_CHECK_TIMEOUT_S)
    except TimeoutError:
        return name, {"ok": False, "detail": f"no answer within {READY_CHECK_TIMEOUT_S:.0f}s"}
    except Exception as error:  # noqa: BLE001 - every failure is a "not ready" answer
        return name, {"ok": False, "detail": f"{type(error).__name__}: {error}"}
    return name, {"ok": True, "latency_s": round(time.perf_counter() - started, 4)}
