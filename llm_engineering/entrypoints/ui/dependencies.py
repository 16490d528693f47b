"""FastAPI dependencies of the UI routes; tests replace any of them with `app.dependency_overrides`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

# Imported at run time, not under TYPE_CHECKING: FastAPI reads these annotations to resolve `Depends`.
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawlers.egress import EgressPolicy
from llm_engineering.application.serving.served_model import ModelServing
from llm_engineering.bootstrap import Container
from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.entrypoints.api.dependencies import ServiceState, get_state
from llm_engineering.entrypoints.ui.jobs import JobRunner
from llm_engineering.model.registry import ModelRegistry

# Where the evaluation pipeline writes its reports (`steps/evaluating/report.py`), from the working folder.
EVALUATION_REPORTS_DIR = Path("output") / "evaluation"


def get_ui_container(state: Annotated[ServiceState, Depends(get_state)]) -> Container:
    """The app's container: the UI's stores and collaborators come from it."""
    return state.container


def get_documents(container: Annotated[Container, Depends(get_ui_container)]) -> DocumentRepository:
    """The warehouse's documents, through the app container's warehouse (building it opens nothing)."""
    return container.documents()


def get_job_runner(request: Request) -> JobRunner:
    return request.app.state.ui_jobs


def get_crawler_dispatcher(container: Annotated[Container, Depends(get_ui_container)]) -> CrawlerDispatcher:
    return container.crawler_dispatcher()


def get_egress_policy(container: Annotated[Container, Depends(get_ui_container)]) -> EgressPolicy:
    return container.egress_policy()


def get_model_registry(state: Annotated[ServiceState, Depends(get_state)]) -> ModelRegistry:
    return state.container.model_registry()


def get_model_serving(state: Annotated[ServiceState, Depends(get_state)]) -> ModelServing:
    """The app container's served-model use cases: the same the LLM client asks per request."""
    return state.container.model_serving()


def get_evaluation_reports_dir() -> Path:
    return EVALUATION_REPORTS_DIR
