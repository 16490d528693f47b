"""The web UI's JSON routes, under `/ui/api`:

- `GET  /authors?page&size`: authors sorted by name, with their document counts per category.
- `GET  /authors/{author_id}/documents?category&page&size`: title, link and platform of an author's documents.
- `POST /links` (same-origin, token when API_UI_TOKEN is set): checks the links and starts a crawl job
  (`digital_data_etl`, then `feature_engineering` for the author); 202 with the job, 409 while one runs.
- `GET  /jobs`, `GET /jobs/{job_id}`: the jobs kept in memory (newest first).
- `GET  /models`: the answering LLM (the served model and why), the registered versions and the newest
  evaluation report.
- `POST /models/serve`, `POST /models/promote` (same-origin, token when API_UI_TOKEN is set): switch the served
  model, mark a version production; the use cases of `poe serve-model` / `poe promote-model`, with their
  checks (422 saying why a model cannot be served, 502 when the running local LLM server cannot load it).

Every error answers `{"detail": "<one line>"}` (validation errors too, see `install`); a warehouse that does
not answer is a 503 naming it, like the rest of the service.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, Field

from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawlers.egress import EgressPolicy
from llm_engineering.application.errors import ServedModelError, ServingEngineError
from llm_engineering.application.operations.pipeline_catalogue import PipelineCatalogue
from llm_engineering.application.serving.served_model import ModelServing
from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.entrypoints.api.dependencies import ServiceState, get_settings_dependency
from llm_engineering.entrypoints.api.errors import translate_error
from llm_engineering.entrypoints.api.schemas import DependencyErrorResponse, ErrorResponse, StrictRequest
from llm_engineering.entrypoints.api.strict_json import StrictJSONRoute
from llm_engineering.entrypoints.api.validation_errors import safe_errors
from llm_engineering.entrypoints.ui import catalog, models_overview
from llm_engineering.entrypoints.ui.dependencies import (
    get_crawler_dispatcher,
    get_documents,
    get_egress_policy,
    get_evaluation_reports_dir,
    get_job_runner,
    get_model_registry,
    get_model_serving,
)
from llm_engineering.entrypoints.ui.errors import JobAlreadyRunning
from llm_engineering.entrypoints.ui.jobs import JobRunner, NoPipelines
from llm_engineering.entrypoints.ui.links import check_links
from llm_engineering.entrypoints.ui.security import require_write_access
from llm_engineering.model.registry import ModelRegistry
from llm_engineering.settings import Settings

PREFIX = "/ui/api"
MAX_LINKS = 20
MAX_LINK_CHARS = 2048
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

router = APIRouter(prefix=PREFIX, tags=["ui"], route_class=StrictJSONRoute)
PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")]
PageSize = Annotated[int, Query(ge=1, le=100, description="Items per page.")]

# Every error here answers {"detail": "<one line>"}; declared so the OpenAPI schema lists each status.
INVALID = {422: {"model": ErrorResponse, "description": "Invalid parameters or body, in one line."}}
NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such author or job."}}
WAREHOUSE_DOWN = {503: {"model": DependencyErrorResponse, "description": "The data warehouse does not answer."}}
WRITE_REFUSED = {
    401: {"model": ErrorResponse, "description": "API_UI_TOKEN is set and the X-Twin-Token header does not match."},
    403: {"model": ErrorResponse, "description": "A cross-origin request, or a non-loopback host without a token."},
    409: {"model": ErrorResponse, "description": "A crawl is already running."},
}


MODEL_WRITE_REFUSED = {
    401: WRITE_REFUSED[401],
    403: WRITE_REFUSED[403],
    422: {"model": ErrorResponse, "description": "No such version, or a model the local engine cannot serve."},
    502: {"model": ErrorResponse, "description": "The running local LLM server could not load the model."},
}


def _author_name(value: str) -> str:
    name = " ".join(value.split())
    if _CONTROL_CHARACTERS.search(name):
        raise ValueError("the name contains control characters")
    if len(name.split()) < 2:
        raise ValueError('give a first and a last name, e.g. "Jane Doe"')
    return name


def _links(values: list[str]) -> list[str]:
    # Stripped, blanks dropped, duplicates kept once (in order).
    links = list(dict.fromkeys(value.strip() for value in values if value.strip()))
    if not links:
        raise ValueError("give at least one link")
    return links


class CrawlRequest(StrictRequest):
    """An author and the links of their writing to crawl."""

    author_full_name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_author_name)]
    links: Annotated[
        list[Annotated[str, Field(max_length=MAX_LINK_CHARS)]],
        Field(min_length=1, max_length=MAX_LINKS),
        AfterValidator(_links),
    ]


@contextmanager
def _dependency_errors() -> Iterator[None]:
    """A store that does not answer becomes the service's 503 naming it (see `api.errors`)."""
    try:
        yield
    except LLMTwinError as error:
        translated = translate_error(error)
        if translated is None:
            raise
        raise translated from error


@router.get("/authors", responses={**INVALID, **WAREHOUSE_DOWN})
def list_authors(
    documents: Annotated[DocumentRepository, Depends(get_documents)], page: PageNumber = 1, size: PageSize = 20
) -> dict[str, Any]:
    """Authors sorted by full name, with their number of articles, posts and repositories."""
    with _dependency_errors():
        authors, total = catalog.authors_page(documents, page, size)
    return {"authors": authors, "page": page, "size": size, "total": total}


@router.get("/authors/{author_id}/documents", responses={**INVALID, **NOT_FOUND, **WAREHOUSE_DOWN})
def list_documents(
    documents: Annotated[DocumentRepository, Depends(get_documents)],
    author_id: str,
    category: catalog.Category = "articles",
    page: PageNumber = 1,
    size: PageSize = 20,
) -> dict[str, Any]:
    """Title, link and platform of one category of the author's documents (never their content)."""
    with _dependency_errors():
        author = catalog.find_author(documents, author_id)
        if author is None:
            raise HTTPException(status_code=404, detail=f"unknown author {author_id!r}")
        summaries, total = catalog.documents_page(documents, author, category, page, size)
    return {"documents": summaries, "page": page, "size": size, "total": total}


@router.post(
    "/links",
    status_code=202,
    dependencies=[Depends(require_write_access)],
    responses={**INVALID, **WRITE_REFUSED},
)
def start_crawl(
    body: CrawlRequest,
    settings: Annotated[Settings, Depends(get_settings_dependency)],
    dispatcher: Annotated[CrawlerDispatcher, Depends(get_crawler_dispatcher)],
    egress: Annotated[EgressPolicy, Depends(get_egress_policy)],
    jobs: Annotated[JobRunner, Depends(get_job_runner)],
) -> dict[str, Any]:
    """Check the links (422 naming each bad one) and start the crawl job; 409 while another crawl runs."""
    linkedin_configured = bool(settings.LINKEDIN_USERNAME and settings.LINKEDIN_PASSWORD)
    crawlers, problems = check_links(body.links, dispatcher, linkedin_configured, egress)
    if problems:
        raise HTTPException(status_code=422, detail="cannot crawl " + "; ".join(problems))
    try:
        job = jobs.start_crawl(body.author_full_name, body.links, crawlers)
    except JobAlreadyRunning as error:
        raise HTTPException(status_code=409, detail=str(error)) from error
    return {"job": job}


@router.get("/jobs")
def list_jobs(jobs: Annotated[JobRunner, Depends(get_job_runner)]) -> dict[str, Any]:
    """The last jobs (kept in memory), newest first."""
    return {"jobs": jobs.jobs()}


@router.get("/jobs/{job_id}", responses={**INVALID, **NOT_FOUND})
def get_job(job_id: str, jobs: Annotated[JobRunner, Depends(get_job_runner)]) -> dict[str, Any]:
    job = jobs.job(job_id)
    if job is None:
        raise HTTPException(status_code=404, detail=f"unknown job {job_id!r}")
    return job


@router.get("/models")
def list_models(
    settings: Annotated[Settings, Depends(get_settings_dependency)],
    registry: Annotated[ModelRegistry, Depends(get_model_registry)],
    serving: Annotated[ModelServing, Depends(get_model_serving)],
    reports_dir: Annotated[Path, Depends(get_evaluation_reports_dir)],
) -> dict[str, Any]:
    """The answering LLM and why it is that one, every registered version (newest first, the served one
    marked) and the newest evaluation report."""
    served = serving.current()
    return {
        "llm": models_overview.llm_summary(settings, served),
        "served": models_overview.served_summary(served, serving.chosen(), serving.base.model_id),
        "registered": models_overview.registered_models(registry, served_model_id=served.model_id),
        "evaluation_report": models_overview.latest_evaluation_report(reports_dir),
    }


class ModelChoice(StrictRequest):
    """A model to serve or promote: llm_twin:vN, llm_twin:production, llm_twin:latest or base."""

    model: Annotated[str, Field(min_length=1, max_length=200)]


@contextmanager
def _serving_errors() -> Iterator[None]:
    """The use case's refusals in plain words: 422 for the checks, 502 when the local server cannot load it."""
    try:
        yield
    except ServedModelError as error:
        raise HTTPException(status_code=422, detail=str(error)) from error
    except ServingEngineError as error:
        raise HTTPException(status_code=502, detail=str(error)) from error


@router.post("/models/serve", dependencies=[Depends(require_write_access)], responses=MODEL_WRITE_REFUSED)
def serve_model(body: ModelChoice, serving: Annotated[ModelServing, Depends(get_model_serving)]) -> dict[str, Any]:
    """Make the model the served model (checked, loaded by a running local LLM server, recorded); the API
    asks it from the next request on."""
    with _serving_errors():
        switch = serving.serve(body.model, by="web UI")
    return {
        "served": models_overview.served_summary(switch.served, serving.chosen(), serving.base.model_id),
        "message": " ".join(switch.lines()),
    }


@router.post("/models/promote", dependencies=[Depends(require_write_access)], responses=MODEL_WRITE_REFUSED)
def promote_model(body: ModelChoice, serving: Annotated[ModelServing, Depends(get_model_serving)]) -> dict[str, Any]:
    """Mark the version production (with no model chosen, production is what is served)."""
    with _serving_errors():
        promotion = serving.promote(body.model, by="web UI")
    return {
        "production": promotion.model.spec,
        "served": models_overview.served_summary(promotion.served, serving.chosen(), serving.base.model_id),
        "message": " ".join(promotion.lines()),
    }


def install(
    app: FastAPI, state: ServiceState, job_runner: JobRunner | None = None, pipelines: PipelineCatalogue | None = None
) -> None:
    """Add the UI's JSON routes to `app`, with a job runner (default: the ZenML pipelines of `pipelines`, the
    catalogue the outer layer hands in, on `state`'s stores; without one, crawl jobs fail saying so), and answer
    validation errors under `/ui/api` as one-line `{"detail": ...}`."""
    if job_runner is None and pipelines is None:
        job_runner = JobRunner(NoPipelines())
    elif job_runner is None:
        from llm_engineering.bootstrap.pipeline_runs import build_pipeline_runner

        job_runner = JobRunner(build_pipeline_runner(lambda: state.container, pipelines))
    app.state.ui_jobs = job_runner
    app.include_router(router)
    fallback: Callable[..., Any] = app.exception_handlers.get(RequestValidationError) or (
        request_validation_exception_handler
    )

    async def validation_error(request: Request, error: Exception) -> Any:
        if isinstance(error, RequestValidationError) and request.url.path.startswith(PREFIX + "/"):
            return JSONResponse(status_code=422, content={"detail": describe_validation_error(error)})
        return await fallback(request, error)

    app.add_exception_handler(RequestValidationError, validation_error)


def describe_validation_error(error: RequestValidationError) -> str:
    """`size: Input should be less than or equal to 100; links: ...` (the `query`/`body` prefix left out)."""
    parts = []
    # Made safe first: a location may be a client's key of 1 MB, or hold a lone surrogate.
    for item in safe_errors(error.errors()):
        location = ".".join(str(part) for part in item["loc"] if part not in ("query", "body", "path"))
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "invalid request"
