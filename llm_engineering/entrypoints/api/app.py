"""The FastAPI app factory: `POST /rag`, `POST /retrieve`, `GET /health`, `GET /ready`.

Collaborators come from a `bootstrap.Container` built from settings (or handed in by a test), through
the dependencies in `dependencies.py`. Creating the app opens no store and loads no model; a background
warm-up does that after start. Blocking work runs in worker threads under the request's deadline, and
the work that calls the LLM on slots of its own (`blocking.py`); failures of the LLM or a store answer
503 naming the dependency.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger

from llm_engineering import bootstrap
from llm_engineering.application.deadline import Deadline, within
from llm_engineering.entrypoints.api.dependencies import ServiceState
from llm_engineering.entrypoints.api.errors import DependencyUnavailable
from llm_engineering.entrypoints.api.routes import feedback, health, rag
from llm_engineering.entrypoints.api.validation_errors import validation_error_handler
from llm_engineering.infrastructure.opik_tracing import OpikTracer
from llm_engineering.settings import Settings, get_settings
from llm_engineering.telemetry import opt_out_of_vendor_telemetry


def warm_up(state: ServiceState, deadline: Deadline) -> None:
    """Open the stores and load the embedding model before the first request, then probe the LLM, all
    within `deadline`: a hung LLM ends the warm-up there (errors are only logged)."""
    try:
        with within(deadline):
            container = state.bound_container()
            retriever = container.retriever()
            retriever.embedder.embed(["warm-up"])
            logger.info("RAG service warmed up (reranker: {})", container.reranker().name)
            # Decide once, before the first request, whether self-query and expansion can run on this model
            # (verdicts cached per model: a restart on the same model asks the LLM nothing).
            for step, reason in retriever.probe_capabilities().items():
                logger.info("{}: {}", step, reason)
    except Exception as error:  # noqa: BLE001 - reported by /ready and by each request instead
        logger.warning("RAG service warm-up failed: {}", error)


def create_app(
    settings: Settings | None = None,
    container: bootstrap.Container | None = None,
    warm_up_on_start: bool = True,
) -> FastAPI:
    """The FastAPI app. Pass `container` (or override the dependencies) to inject other collaborators."""
    settings = settings or (container.settings if container is not None else get_settings())
    opt_out_of_vendor_telemetry(settings)  # before Opik (tracing) or the embedder's libraries are imported
    bootstrap.use_embedding_threads(settings, "query")  # one query at a time: one thread encodes it
    container = container or bootstrap.Container(settings)
    state = ServiceState(container, tracer=OpikTracer(tags=["rag"]))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # As long as a request may take: the warm-up then never outlives a hung LLM by more.
        warm_up_deadline = Deadline(container.settings.API_REQUEST_TIMEOUT_S)
        loop = asyncio.get_running_loop()
        task = loop.run_in_executor(None, warm_up, state, warm_up_deadline) if warm_up_on_start else None
        yield
        warm_up_deadline.cancel("the service is stopping")  # interrupts an LLM probe still waiting
        if task is not None and not task.done():
            task.cancel()
        container.close()

    app = FastAPI(
        title="LLM Twin RAG service",
        version="1.0",
        description="Answers in the author's voice from their own writing (retrieval-augmented generation).",
        lifespan=lifespan,
    )
    app.state.service = state

    @app.exception_handler(DependencyUnavailable)
    async def _unavailable(_: Request, error: DependencyUnavailable) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content={"detail": f"{error.dependency} unavailable: {error.detail}", "dependency": error.dependency},
        )

    # FastAPI's own handler echoes inputs as is and fails on NaN or lone surrogates: a 500 instead of a 422.
    app.add_exception_handler(RequestValidationError, validation_error_handler)

    app.include_router(health.router)
    app.include_router(rag.router)
    app.include_router(feedback.router)
    if container.settings.API_ENABLE_UI:
        from llm_engineering.entrypoints.ui.api import install as install_ui_api
        from llm_engineering.entrypoints.ui.pages import mount_pages

        install_ui_api(app, state)
        mount_pages(app, container.settings)
    return app
