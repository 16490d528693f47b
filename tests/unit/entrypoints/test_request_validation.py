"""Every client input is a 4xx, never a 500: non-finite numbers, booleans as numbers, lone surrogates, bodies
that are not UTF-8 JSON, and huge inputs, on each route with a body (API and `/ui/api`), with fakes only."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from llm_engineering import bootstrap
from llm_engineering.application.rag.answering import AnswerGenerator
from llm_engineering.bootstrap import Container
from llm_engineering.entrypoints.api import create_app
from llm_engineering.entrypoints.api.dependencies import get_answer_generator, get_plain_retriever, get_retriever
from llm_engineering.entrypoints.api.validation_errors import MAX_ECHO_CHARS
from llm_engineering.entrypoints.ui.dependencies import get_egress_policy, get_job_runner
from llm_engineering.entrypoints.ui.jobs import JobRunner
from llm_engineering.settings import load_settings
from tests.fixtures.egress import table_policy
from tests.fixtures.memory_warehouse import memory_warehouse  # noqa: F401  (fixtures are found by name)
from tests.unit.application.rag.fakes import OnePassageRetriever, ScriptedLLM

# A valid body per route, and its integer and number fields.
BODIES = {
    "/rag": {"query": "Why rerank?"},
    "/rag/stream": {"query": "Why rerank?"},
    "/retrieve": {"query": "Why rerank?"},
    "/feedback": {"trace_id": "trace-1", "score": 1},
}
INTEGER_FIELDS = [(path, "k") for path in ("/rag", "/rag/stream", "/retrieve")] + [
    ("/rag", "expand_to_n_queries"),
    ("/rag/stream", "max_new_tokens"),
]
NUMBER_FIELDS = [("/rag", "temperature"), ("/rag/stream", "top_p"), ("/feedback", "score")]
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e309", "-1e309"]
STRING_FIELDS = [
    ("/rag", "query"),
    ("/rag/stream", "query"),
    ("/retrieve", "query"),
    ("/feedback", "trace_id"),
    ("/feedback", "name"),
    ("/feedback", "reason"),
]


@pytest.fixture
def client(tmp_path, memory_warehouse) -> TestClient:  # noqa: F811 - the fixture imported above
    """The app with a one-passage retriever and an LLM that answers anything; never raises a server error."""
    settings = load_settings(env_file=tmp_path / "none.env", RAG_MAX_QUERY_CHARS=100)
    container = Container(settings, warehouse=memory_warehouse, vector_store=object())
    app = create_app(settings, container=container, warm_up_on_start=False)
    retriever = OnePassageRetriever()
    app.dependency_overrides[get_retriever] = lambda: lambda: retriever
    app.dependency_overrides[get_plain_retriever] = lambda: lambda: retriever
    app.dependency_overrides[get_answer_generator] = lambda: lambda: AnswerGenerator(ScriptedLLM("An answer [1]."))
    app.dependency_overrides[get_job_runner] = lambda: JobRunner(lambda *_: None, start_thread=lambda *_: None)
    egress = table_policy()  # names resolve from a table: no DNS query leaves the machine
    app.dependency_overrides[get_egress_policy] = lambda: egress
    yield TestClient(app, base_url="http://127.0.0.1:8000")
    bootstrap.reset()


def post_raw(client: TestClient, path: str, body: str | bytes):
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


def with_literal(path: str, field: str, literal: str) -> str:
    """The route's valid body with `field` set to a JSON literal written as is (`NaN`, `1e309`, `true`)."""
    return json.dumps({**BODIES[path], field: "LITERAL"}).replace('"LITERAL"', literal)


def errors_of(response) -> list[dict]:
    """The 422's errors, read as strict JSON (no NaN) from UTF-8."""
    assert response.status_code == 422, response.text
    body = json.loads(response.content.decode("utf-8"), parse_constant=pytest.fail)
    return body["detail"]


def fields_named(errors: list[dict]) -> set[str]:
    return {str(part) for error in errors for part in error["loc"]}


@pytest.mark.parametrize("literal", NON_FINITE)
@pytest.mark.parametrize(("path", "field"), INTEGER_FIELDS + NUMBER_FIELDS)
def test_non_finite_numbers_are_422_naming_the_field(client, path, field, literal):
    errors = errors_of(post_raw(client, path, with_literal(path, field, literal)))
    assert field in fields_named(errors)
    assert errors[0]["input"] in ("NaN", "Infinity", "-Infinity")


@pytest.mark.parametrize("literal", ["true", "false", "3.0", '"3"'])
@pytest.mark.parametrize(("path", "field"), INTEGER_FIELDS)
def test_integers_are_json_integers_not_booleans_floats_or_strings(client, path, field, literal):
    errors = errors_of(post_raw(client, path, with_literal(path, field, literal)))
    assert fields_named(errors) >= {field} and errors[0]["type"] == "int_type"


@pytest.mark.parametrize("literal", ["true", '"0.5"'])
@pytest.mark.parametrize(("path", "field"), NUMBER_FIELDS)
def test_numbers_are_not_booleans_or_strings(client, path, field, literal):
    assert field in fields_named(errors_of(post_raw(client, path, with_literal(path, field, literal))))


def test_an_integer_is_a_number(client):
    response = client.post("/feedback", json={"trace_id": "trace-1", "score": 1})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("path", "field"), STRING_FIELDS)
def test_a_lone_surrogate_is_422_saying_the_text_is_not_unicode(client, path, field):
    errors = errors_of(post_raw(client, path, with_literal(path, field, '"ok \\ud800"')))
    assert field in fields_named(errors)
    assert "not valid Unicode" in errors[0]["msg"]
    assert errors[0]["input"] == "ok \\ud800"  # echoed escaped


@pytest.mark.parametrize("path", list(BODIES))
def test_a_huge_unknown_key_and_its_value_are_echoed_cut(client, path):
    body = json.dumps({**BODIES[path], "k" * 100_000: "v" * 1_000_000})
    errors = errors_of(post_raw(client, path, body))
    assert errors[0]["type"] == "extra_forbidden"
    assert errors[0]["loc"][-1] == "k" * MAX_ECHO_CHARS + "…"
    assert errors[0]["input"] == "v" * MAX_ECHO_CHARS + "…"


@pytest.mark.parametrize("path", list(BODIES))
def test_a_key_that_is_not_unicode_is_422_and_the_body_echoed_escaped(client, path):
    errors = errors_of(post_raw(client, path, json.dumps({**BODIES[path], "\ud800": 1})))
    assert errors[0]["loc"] == ["body"] and "key of the body is not valid Unicode" in errors[0]["msg"]
    assert errors[0]["input"]["\\ud800"] == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": ',
        b"\xff\xfe{}",
        b'{"query": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 bytes
        b'{"query": "q", "k": ' + b"9" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["truncated", "not-utf-8", "encoded-surrogate", "5000-digit-integer", "nested-too-deep"],
)
@pytest.mark.parametrize("path", list(BODIES))
def test_bodies_that_are_not_utf8_json_are_422_json_invalid(client, path, body):
    errors = errors_of(post_raw(client, path, body))
    assert errors[0]["type"] == "json_invalid"


def test_a_body_sent_as_another_content_type_is_echoed_escaped(client):
    response = client.post("/retrieve", content=b"\xff" * 10_000, headers={"Content-Type": "text/plain"})
    errors = errors_of(response)
    assert errors[0]["input"].startswith("\\xff\\xff") and errors[0]["input"].endswith("…")


def test_a_query_past_the_limit_is_echoed_cut(client):
    errors = errors_of(client.post("/retrieve", json={"query": "q" * 10_000}))
    assert errors[0]["type"] == "string_too_long" and len(errors[0]["input"]) < 100


def test_valid_bodies_still_answer(client):
    for path, body in BODIES.items():
        response = client.post(path, json={**body, **({"k": 2} if "query" in body else {})})
        assert response.status_code == 200, (path, response.text)


# --- The UI's JSON routes: the same rules, answered as one line ------------------------------------------
def crawl_body(**changes: object) -> dict:
    return {"author_full_name": "Mara Quillon", "links": ["https://quillon.example/post"], **changes}


def ui_detail(response) -> str:
    assert response.status_code == 422, response.text
    detail = json.loads(response.content.decode("utf-8"))["detail"]
    assert isinstance(detail, str)
    return detail


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"author_full_name": "Mara \\ud800", "links": ["https://quillon.example/post"]}', "author_full_name"),
        ('{"author_full_name": "Mara Quillon", "links": ["https://quillon.example/\\udc00"]}', "links"),
        ('{"author_full_name": "Mara Quillon", "links": NaN}', "links"),
        ('{"author_full_name": true, "links": ["https://quillon.example/post"]}', "author_full_name"),
    ],
)
def test_ui_crawl_bodies_that_are_not_text_are_422_in_one_line(client, body, field):
    detail = ui_detail(post_raw(client, "/ui/api/links", body))
    assert detail.startswith(f"{field}")


def test_ui_unknown_keys_are_named_cut(client):
    detail = ui_detail(client.post("/ui/api/links", json=crawl_body(**{"x" * 100_000: 1})))
    assert detail == "x" * MAX_ECHO_CHARS + "…: Extra inputs are not permitted"


def test_ui_keys_that_are_not_unicode_are_422(client):
    detail = ui_detail(post_raw(client, "/ui/api/links", json.dumps(crawl_body(**{"\udfff": 1}))))
    assert "key of the body is not valid Unicode" in detail


def test_ui_bodies_that_are_not_json_are_422(client):
    assert "JSON decode error" in ui_detail(post_raw(client, "/ui/api/links", b"\xff{"))


def test_ui_many_bad_links_get_a_bounded_answer(client):
    detail = ui_detail(client.post("/ui/api/links", json=crawl_body(links=[1] * 10_000)))
    assert len(detail) < 5000
