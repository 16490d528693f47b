"""Property-based fuzzing of every operation in the service's OpenAPI schema (schemathesis, in process over
ASGI): valid and invalid requests alike must never get a 5xx, and every response must match the schema
(status code, content type, headers, body). The collaborators are fakes that never fail, so a 503/504 would
be a bug here too: the LLM answers at once, retrieval finds one passage, the warehouse lives in memory.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
from llm_engineering.domain.base.nosql import DocumentRepository
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
from tests.conftest import free_port
from tests.fixtures.egress import table_policy
from tests.fixtures.memory_warehouse import MemoryWarehouse
from tests.unit.application.rag.fakes import OnePassageRetriever

pytestmark = [pytest.mark.integration, pytest.mark.slow]

UI_TOKEN = "fuzz-token"
# Bounded so the module runs in well under a minute on a busy 2-core machine; derandomized, so a failure
# found once is found again on every run (and in CI).
MAX_EXAMPLES = 50
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
    "POST /ui/api/models/serve",
    "POST /ui/api/models/promote",
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
def warehouse() -> PingableWarehouse:
    store = PingableWarehouse()
    # So /ui/api/authors lists someone.
    DocumentRepository(store).save(UserDocument(first_name="Mara", last_name="Quillon"))
    return store


@pytest.fixture
def app(tmp_path, warehouse) -> FastAPI:
    """The service (API and UI routes) on fakes that never fail."""
    # The served-model record and registry in the test's folder; no local LLM server is asked to load anything.
    app_settings = load_settings(
        env_file=tmp_path / "none.env", API_UI_TOKEN=UI_TOKEN, LOCAL_DATA_DIR=tmp_path, LOCAL_LLM_PORT=free_port()
    )
    container = Container(app_settings, warehouse=warehouse, vector_store=PingableStore(), llm=ConstantLLM())
    service = create_app(app_settings, container=container, warm_up_on_start=False)
    retriever = OnePassageRetriever()
    jobs = JobRunner(completed_run, start_thread=run_inline)  # no threads outliving the test, no 409
    egress = table_policy()  # every host resolves to a public address: no DNS query leaves the machine
    service.dependency_overrides.update(
        {
            get_retriever: lambda: lambda: retriever,
            get_plain_retriever: lambda: lambda: retriever,
            get_answer_generator: lambda: lambda: AnswerGenerator(ConstantLLM()),
            get_tracer: RecordingTracer,
            get_job_runner: lambda: jobs,
            get_egress_policy: lambda: egress,
            get_model_registry: lambda: ModelRegistry(tmp_path / "registry"),
            get_evaluation_reports_dir: lambda: tmp_path / "evaluation",
        }
    )
    return service


@pytest.fixture
def api_schema(app) -> Any:
    """The app's OpenAPI schema, loaded by schemathesis (an explicit config: no schemathesis.toml is read)."""
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


# --- What the schema cannot express -------------------------------------------------------------------
# schemathesis sends only what JSON Schema describes; Python's json also reads NaN, Infinity, 1e309 (inf),
# lone surrogates ("\ud800") and 5000-digit integers, and a client can send any bytes. Each must be a 4xx
# whose body still matches the schema (the 422 handler used to crash echoing such values back).
VALID_BODIES: dict[str, dict[str, Any]] = {
    "POST /rag": {"query": "Why rerank?", "k": 2, "temperature": 0.5},
    "POST /rag/stream": {"query": "Why rerank?", "top_p": 0.9},
    "POST /retrieve": {"query": "Why rerank?", "k": 2},
    "POST /feedback": {"trace_id": "trace-1", "score": 1, "reason": "clear"},
    "POST /ui/api/links": {"author_full_name": "Mara Quillon", "links": ["https://quillon.example/post"]},
}
FIELDS: dict[str, list[str]] = {
    "POST /rag": ["query", "k", "expand_to_n_queries", "max_new_tokens", "temperature", "top_p"],
    "POST /rag/stream": ["query", "k", "expand_to_n_queries", "max_new_tokens", "temperature", "top_p"],
    "POST /retrieve": ["query", "k"],
    "POST /feedback": ["trace_id", "score", "name", "reason"],
    "POST /ui/api/links": ["author_full_name", "links"],
}
LONE_SURROGATES = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
HOSTILE_SCALARS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, True, False, None, 10**40, -(10**4000)]),
    st.floats(),
    st.integers(),
    LONE_SURROGATES,
    st.tuples(st.text(max_size=5), LONE_SURROGATES).map("".join),
    st.integers(min_value=0, max_value=300_000).map(lambda size: "x" * size),
    st.text(max_size=20),
)
HOSTILE_VALUES = st.recursive(
    HOSTILE_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5) | LONE_SURROGATES, children, max_size=4)
    ),
    max_leaves=8,
)
RAW_BODIES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b'{"query": "q", "k": 1e309}',
            b'{"query": "q", "k": NaN}',
            b'{"query": "q", "temperature": -Infinity}',
            b'{"query": "\\ud800"}',
            b'{"query": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 bytes: not UTF-8
            b'{"query": "q", "k": ' + b"9" * 5000 + b"}",
            b"[" * 50_000 + b"]" * 50_000,
            b"\xef\xbb\xbf{}",
            b'{"query": "q"',
        ]
    ),
)
HOSTILE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def hostile_body(label: str) -> st.SearchStrategy[bytes]:
    """A valid body of `label` with one field (or an unknown key) replaced, the whole body replaced, or raw bytes;
    written by Python's json (NaN as `NaN`, surrogates as `\\ud800` escapes)."""
    valid = VALID_BODIES[label]
    one_field = st.tuples(st.sampled_from([*FIELDS[label], "unknown"]), HOSTILE_VALUES).map(
        lambda item: {**valid, item[0]: item[1]}
    )
    return st.one_of(one_field, HOSTILE_VALUES).map(lambda body: json.dumps(body).encode()) | RAW_BODIES


@pytest.mark.parametrize("label", list(VALID_BODIES))
def test_bodies_the_schema_cannot_describe_get_a_4xx_within_the_schema(app, api_schema, label) -> None:
    operation = api_schema.find_operation_by_label(label)
    client = TestClient(app, base_url="http://127.0.0.1:8000")
    headers = {"Content-Type": "application/json", "X-Twin-Token": UI_TOKEN}
    # The valid body succeeds as documented (the fuzzer rarely writes a crawlable link or a two-word name).
    valid = client.post(operation.path, json=VALID_BODIES[label], headers=headers)
    assert valid.status_code in (200, 202), valid.text
    operation.Case(body=VALID_BODIES[label], media_type="application/json").validate_response(
        valid, checks=HOSTILE_CHECKS
    )

    @given(body=hostile_body(label))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    def answers_well(body: bytes) -> None:
        response = client.post(operation.path, content=body, headers=headers)
        assert response.status_code < 500, response.text[:500]
        operation.Case(media_type="application/json").validate_response(response, checks=HOSTILE_CHECKS)

    answers_well()
