"""The FastAPI app factory: `POST /rag`, `POST /retrieve`, `GET /health`, `GET /ready`.

Collaborators come from a `bootstrap.Container` built from settings (or handed in by a test), through
the dependencies in `dependencies.py`. Creating the app opens no store and loads no model; a background
warm-up does that after start (`warm_up.py`), and `/ready` says `warming_up` until it has. Blocking work
runs in worker threads under the request's deadline, and the work that calls the LLM on slots of its own
(`blocking.py`); failures of the LLM or a store answer 503 naming the dependency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from llm_engineering import bootstrap
from llm_engineering.application.deadline import Deadline
from llm_engineering.application.operations.pipeline_catalogue import PipelineCatalogue
from llm_engineering.entrypoints.api.dependencies import ServiceState
from llm_engineering.entrypoints.api.errors import DependencyUnavailable
from llm_engineering.entrypoints.api.routes import feedback, health, rag
from llm_engineering.entrypoints.api.validation_errors import validation_error_handler
from llm_engineering.entrypoints.api.warm_up import WarmUp, WarmUpStatus, warm_up_stages
from llm_engineering.settings import Settings, get_settings
from llm_engineering.telemetry import opt_out_of_vendor_telemetry


def warm_up(state: ServiceState, deadline: Deadline) -> WarmUpStatus:
    """Run the service's warm-up now, in this thread, within `deadline` (the app runs it in the background):
    models loaded, one search, the LLM probed; a hung LLM ends it at the deadline. Failures are logged."""
    return WarmUp(warm_up_stages(state)).run(deadline)


def create_app(
    settings: Settings | None = None,
    container: bootstrap.Container | None = None,
    warm_up_on_start: bool = True,
    pipelines: PipelineCatalogue | None = None,
) -> FastAPI:
    """The FastAPI app. Pass `container` (or override the dependencies) to inject other collaborators, and
    `pipelines` (the project's catalogue, `pipelines/catalogue.py`) for the web UI to run its crawl jobs on."""
    settings = settings or (container.settings if container is not None else get_settings())
    opt_out_of_vendor_telemetry(settings)  # before Opik (tracing) or the embedder's libraries are imported
    bootstrap.use_project_zenml_store(settings)  # the web UI runs pipelines: on this checkout's ZenML store
    bootstrap.use_embedding_threads(settings, "query")  # one query at a time: one thread encodes it
    container = container or bootstrap.Container(settings)
    state = ServiceState(container, tracer=container.tracer(tags=["rag"]))
    if warm_up_on_start:
        # Bounded as a request is: the warm-up never outlives a hung LLM by more.
        state.warm_up = WarmUp(warm_up_stages(state), timeout_s=container.settings.API_REQUEST_TIMEOUT_S)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.warm_up.start()  # in the background: /health and /ready answer meanwhile
        yield
        state.warm_up.stop("the service is stopping")  # interrupts an LLM probe still waiting
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

        install_ui_api(app, state, pipelines=pipelines)
        mount_pages(app, container.settings, container.generation_parameters())
    return app
