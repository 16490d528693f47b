"""FastAPI dependencies: the service's collaborators, from the app's `bootstrap.Container`.

Routes get thunks, so that the (possibly slow, possibly failing) first build of a retriever or an LLM
client runs in the thread pool with the request's deadline, not on the event loop. Tests replace any of
these with `app.dependency_overrides`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from llm_engineering.application.ports import Tracer
from llm_engineering.entrypoints.api.blocking import LLMSlots
from llm_engineering.entrypoints.api.readiness import DependencyProbe, readiness_probes
from llm_engineering.entrypoints.api.warm_up import WarmUp

if TYPE_CHECKING:
    from llm_engineering.application.llm.client import GenerationParameters
    from llm_engineering.application.rag.answering import AnswerGenerator
    from llm_engineering.application.rag.retriever import ContextRetriever
    from llm_engineering.bootstrap import Container
    from llm_engineering.settings import Settings


class ServiceState:
    """What the app holds: its container, the slots of the requests that call the LLM
    (LLM_MAX_CONCURRENT_REQUESTS), the probes of `/ready` and the warm-up it waits for (none until the app
    factory sets one)."""

    def __init__(self, container: Container, tracer: Tracer):
        self.container = container
        self.tracer = tracer
        self.llm_slots = LLMSlots(container.settings.LLM_MAX_CONCURRENT_REQUESTS)
        self.readiness = readiness_probes(self)
        self.warm_up = WarmUp()


def get_state(request: Request) -> ServiceState:
    return request.app.state.service


def get_settings_dependency(state: Annotated[ServiceState, Depends(get_state)]) -> Settings:
    return state.container.settings


def get_generation_parameters(state: Annotated[ServiceState, Depends(get_state)]) -> GenerationParameters:
    """The answer-generation defaults (`*_INFERENCE` settings) a request's own fields override."""
    return state.container.generation_parameters()


def get_retriever(state: Annotated[ServiceState, Depends(get_state)]) -> Callable[[], ContextRetriever]:
    return lambda: state.container.retriever()


def get_plain_retriever(state: Annotated[ServiceState, Depends(get_state)]) -> Callable[[], ContextRetriever]:
    """The retriever without LLM steps (no self-query, no expansion): retrieval that never calls the LLM."""
    return lambda: state.container.retriever(use_llm=False)


def get_answer_generator(state: Annotated[ServiceState, Depends(get_state)]) -> Callable[[], AnswerGenerator]:
    return lambda: state.container.answer_generator()


def get_tracer(state: Annotated[ServiceState, Depends(get_state)]) -> Tracer:
    return state.tracer


def get_llm_slots(state: Annotated[ServiceState, Depends(get_state)]) -> LLMSlots:
    return state.llm_slots


def get_readiness_probes(state: Annotated[ServiceState, Depends(get_state)]) -> dict[str, DependencyProbe]:
    return state.readiness


def get_warm_up(state: Annotated[ServiceState, Depends(get_state)]) -> WarmUp:
    return state.warm_up
