"""Property-based fuzzing of every operation in the service's OpenAPI schema (schemathesis, in process over
ASGI): valid and invalid requests alike must never get a 5xx, and every response must match the schema
(status code, content type, headers, body). The collaborators are fakes that never fail, so a 503/504 would
be a bug here too: the LLM answers at once, retrieval finds one passage, the warehouse lives in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from llm_engineering.application.llm.client import ChatMessage, ChatStream, GenerationParameters, LLMResponse
from llm_engineering.application.ports import NoTracing
from llm_engineering.application.rag.answering import AnswerGenerator
from llm_engineering.bootstrap import Container
from llm_engineering.domain.base.nosql import bind_warehouse
from llm_engineering.domain.documents import UserDocument
from llm_engineering.entrypoints.api import create_app
from llm_engineering.entrypoints.api.dependencies import (
    get_answer_generator,
    get_plain_retriever,
    get_retriever,
    get_tracer,
)
from llm_engineering.entrypoints.ui.dependencies import (
    get_egress_policy,
    get_evaluation_reports_dir,
    get_job_runner,
    get_model_registry,
)
from llm_engineering.entrypoints.ui.jobs import JobRunner, RunResult
from llm_engineering.model.registry import ModelRegistry
from llm_engineering.settings import load_settings
from tests.fixtures.egress import table_policy
from tests.fixtures.memory_warehouse import MemoryWarehouse
from tests.unit.application.rag.fakes import OnePassageRetriever

pytestmark = [pytest.mark.integration, pytest.mark.slow]

UI_TOKEN = "fuzz-token"
# Bounded so the module runs in well under a minute on a busy 2-core machine; derandomized, so a failure
# found once is found again on every run (and in CI).
MAX_EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    # A request the schema forbids (a bool for `k`, a missing query, bytes that are not JSON) must get a 4xx.
    negative_data_rejection,
]

# Every operation of the schema, one test each in each mode (checked against the schema below, so a new
# route cannot go unfuzzed). Not `schemathesis.pytest.from_fixture`: its lazy loader breaks on pytest 9.2.
OPERATIONS = [
    "GET /health",
    "GET /ready",
    "POST /rag",
    "POST /rag/stream",
    "POST /retrieve",
    "POST /feedback",
    "GET /ui/api/authors",
    "GET /ui/api/authors/{author_id}/documents",
    "POST /ui/api/links",
    "GET /ui/api/jobs",
    "GET /ui/api/jobs/{job_id}",
    "GET /ui/api/models",
]
# Operations without an input schemathesis can break: no parameters, or only a string path segment (any
# URL segment is a string). Invalid requests are generated for the others.
NOTHING_TO_BREAK = {"GET /health", "GET /ready", "GET /ui/api/jobs", "GET /ui/api/jobs/{job_id}", "GET /ui/api/models"}
CASES = [(label, GenerationMode.POSITIVE) for label in OPERATIONS] + [
    (label, GenerationMode.NEGATIVE) for label in OPERATIONS if label not in NOTHING_TO_BREAK
]


class ConstantLLM:
    """Answers every prompt at once with the same cited sentence, streamed in two pieces."""

    model_id = "constant"
    endpoint = "memory://constant"
    REPLY = "Rerank before you prompt [1]."

    def _response(self) -> LLMResponse:
        return LLMResponse(text=self.REPLY, model_id=self.model_id, prompt_tokens=10, completion_tokens=6)

    def chat(self, messages: list[ChatMessage], parameters: GenerationParameters | None = None) -> LLMResponse:
        return self._response()

    def complete(self, prompt: str, parameters: GenerationParameters | None = None) -> LLMResponse:
        return self._response()

    def stream_chat(self, messages: list[ChatMessage], parameters: GenerationParameters | None = None) -> ChatStream:
        yield "Rerank before "
        yield "you prompt [1]."
        return self._response()

    def ping(self) -> None:
        return None


class RecordingTracer(NoTracing):
    """Monitoring that is on and stores every score, so `/feedback` takes its recording path."""

    @property
    def enabled(self) -> bool:
        return True

    def record_feedback(self, trace_id: str, name: str, value: float, reason: str | None = None) -> bool:
        return True


class PingableWarehouse(MemoryWarehouse):
    """The in-memory warehouse, answering `/ready`'s ping."""

    def ping(self) -> None:
        return None


class PingableStore:
    """A vector store for `/ready` (the retrieval routes use the fake retriever)."""

    def ping(self) -> None:
        return None


def completed_run(pipeline: str, parameters: Mapping[str, Any], run_name: str) -> RunResult:
    return RunResult("completed", None, {})


def run_inline(target: Callable[[], None], job_id: str) -> None:
    target()


@pytest.fixture
def warehouse() -> Iterator[PingableWarehouse]:
    store = PingableWarehouse()
    bind_warehouse(store)
    UserDocument(first_name="Mara", last_name="Quillon").save()  # so /ui/api/authors lists someone
    yield store
    bind_warehouse(None)


@pytest.fixture
def api_schema(tmp_path, warehouse) -> Any:
    """The app on fakes, loaded as a schemathesis schema."""
    app_settings = load_settings(env_file=tmp_path / "none.env", API_UI_TOKEN=UI_TOKEN)
    container = Container(app_settings, warehouse=warehouse, vector_store=PingableStore(), llm=ConstantLLM())
    app = create_app(app_settings, container=container, warm_up_on_start=False)
    retriever = OnePassageRetriever()
    jobs = JobRunner(completed_run, start_thread=run_inline)  # no threads outliving the test, no 409
    app.dependency_overrides.update(
        {
            get_retriever: lambda: lambda: retriever,
            get_plain_retriever: lambda: lambda: retriever,
            get_answer_generator: lambda: lambda: AnswerGenerator(ConstantLLM()),
            get_tracer: RecordingTracer,
            get_job_runner: lambda: jobs,
            get_egress_policy: table_policy,  # every host resolves to a public address: no DNS
            get_model_registry: lambda: ModelRegistry(tmp_path / "registry"),
            get_evaluation_reports_dir: lambda: tmp_path / "evaluation",
        }
    )
    # An explicit config: no schemathesis.toml is looked up.
    config = schemathesis.Config.from_dict({"generation": {"deterministic": True}})
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


def test_every_operation_of_the_schema_is_fuzzed(api_schema) -> None:
    assert sorted(result.ok().label for result in api_schema.get_all_operations()) == sorted(OPERATIONS)


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{label}-{mode.value}" for label, mode in CASES])
def test_operation_answers_within_its_schema_and_never_with_a_server_error(api_schema, label, mode) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    def answers_well(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={"X-Twin-Token": UI_TOKEN}, checks=CHECKS)

    answers_well()
