"""The web UI's JSON routes (`/ui/api`) on fakes: the in-memory warehouse (and its documents), a scripted pipeline runner, a
model registry and evaluation reports in a temporary folder."""

from __future__ import annotations

import json
import os
import queue
import threading
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from llm_engineering import bootstrap
from llm_engineering.bootstrap import Container
from llm_engineering.bootstrap.pipeline_runs import config_with_parameters
from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument, UserDocument
from llm_engineering.domain.exceptions import WarehouseUnavailableError
from llm_engineering.entrypoints.api import create_app
from llm_engineering.entrypoints.ui.dependencies import (
    get_egress_policy,
    get_evaluation_reports_dir,
    get_job_runner,
    get_model_registry,
)
from llm_engineering.entrypoints.ui.errors import JobAlreadyRunning, PipelineRunFailed
from llm_engineering.entrypoints.ui.jobs import JobRunner, RunResult
from llm_engineering.model.registry import ModelRegistry
from llm_engineering.settings import load_settings
from pipelines.catalogue import CATALOGUE
from tests.conftest import free_port
from tests.fixtures.egress import table_policy
from tests.fixtures.memory_warehouse import (  # noqa: F401  (fixtures are found by name)
    memory_documents,
    memory_warehouse,
)
from tests.waiting import CEILING_S

BASE_URL = "http://127.0.0.1:8000"
# Thread hand-overs between the test and the job runner: instant when idle, the shared ceiling when busy.
WAIT_S = CEILING_S


class FakeRunner:
    """A `PipelineRunner` recording its calls; `gated` runs wait for `proceed`, `fail_at` raises there."""

    def __init__(self, gated: bool = False, fail_at: str | None = None, error: Exception | None = None):
        self.gated = gated
        self.fail_at = fail_at
        self.error = error or RuntimeError("the crawl step blew up")
        self.calls: list[tuple[str, dict, str]] = []
        self.arrived: queue.Queue[str] = queue.Queue()
        self.proceed = threading.Semaphore(0)

    def __call__(self, pipeline, parameters, run_name):
        self.calls.append((pipeline, dict(parameters), run_name))
        self.arrived.put(pipeline)
        if self.gated:
            assert self.proceed.acquire(timeout=WAIT_S), "the test never let the run proceed"
        if pipeline == self.fail_at:
            raise self.error
        return RunResult("completed", f"http://dashboard.test/runs/{run_name}", {"succeeded": 1})

    def next_stage(self) -> str:
        return self.arrived.get(timeout=WAIT_S)


class DummyVectorStore:
    """The container's vector store; these routes never use it."""


@pytest.fixture
def make_client(tmp_path, memory_warehouse):  # noqa: F811 - the fixture imported above
    made: list[TestClient] = []

    def build(runner=None, base_url=BASE_URL, egress=None, **overrides):
        # The registry and the served-model record in the test's folder; no local LLM server is asked.
        overrides = {"LOCAL_DATA_DIR": tmp_path, "LOCAL_LLM_PORT": free_port(), **overrides}
        settings = load_settings(env_file=tmp_path / "none.env", **overrides)
        egress = egress or table_policy(
            allow_private=settings.CRAWL_ALLOW_PRIVATE_NETWORKS, metadata_example=["169.254.169.254"]
        )
        container = Container(settings, warehouse=memory_warehouse, vector_store=DummyVectorStore())
        app = create_app(settings, container=container, warm_up_on_start=False)
        jobs = JobRunner(runner or FakeRunner())
        app.dependency_overrides[get_job_runner] = lambda: jobs
        app.dependency_overrides[get_model_registry] = lambda: ModelRegistry(tmp_path / "registry")
        app.dependency_overrides[get_evaluation_reports_dir] = lambda: tmp_path / "evaluation"
        # Names resolve from a table (public unless listed): no DNS query leaves the machine.
        app.dependency_overrides[get_egress_policy] = lambda: egress
        client = TestClient(app, base_url=base_url)
        client.jobs = jobs  # type: ignore[attr-defined]
        made.append(client)
        return client

    yield build
    bootstrap.reset()  # leave no process container behind for the next test


def add_author(
    documents: DocumentRepository, first: str, last: str, articles: int = 0, posts: int = 0, repositories: int = 0
) -> UserDocument:
    user = documents.save(UserDocument(first_name=first, last_name=last))
    common = {"author_id": user.id, "author_full_name": user.full_name}
    slug = f"{first}-{last}".lower()
    for number in range(articles):
        documents.save(
            ArticleDocument(
                content={"Title": f"<b>Article {number}</b>", "Content": "<script>alert(1)</script> body"},
                platform="blog.example",
                link=f"https://blog.example/{slug}/{number}",
                **common,
            )
        )
    for number in range(posts):
        # (the in-memory warehouse treats every `link`, None included, as unique)
        link = f"https://www.linkedin.com/posts/{slug}-{number}"
        documents.save(PostDocument(content={"text": f"post {number}"}, platform="linkedin", link=link, **common))
    for number in range(repositories):
        documents.save(
            RepositoryDocument(
                content={"README.md": "# code"},
                platform="github",
                name=f"repo-{number}",
                link=f"https://github.com/{slug}/repo-{number}",
                **common,
            )
        )
    return user


def crawl(client, links=("https://blog.example/a",), name="Ada Lovelace", **headers):
    return client.post("/ui/api/links", json={"author_full_name": name, "links": list(links)}, headers=headers)


# --- Authors and documents ---------------------------------------------------------------------------------
def test_authors_are_sorted_by_name_paginated_and_counted(make_client, memory_documents):  # noqa: F811
    client = make_client()
    add_author(memory_documents, "zoe", "Adams")
    ada = add_author(memory_documents, "Ada", "Lovelace", articles=2, posts=1, repositories=3)
    add_author(memory_documents, "bob", "Marley", posts=1)

    first = client.get("/ui/api/authors", params={"page": 1, "size": 2}).json()
    second = client.get("/ui/api/authors", params={"page": 2, "size": 2}).json()
    beyond = client.get("/ui/api/authors", params={"page": 3, "size": 2}).json()

    assert [author["full_name"] for author in first["authors"]] == ["Ada Lovelace", "bob Marley"]
    assert (first["page"], first["size"], first["total"]) == (1, 2, 3)
    assert first["authors"][0] == {
        "id": str(ada.id),
        "full_name": "Ada Lovelace",
        "counts": {"articles": 2, "posts": 1, "repositories": 3},
    }
    assert [author["full_name"] for author in second["authors"]] == ["zoe Adams"]
    assert beyond["authors"] == [] and beyond["total"] == 3
    assert client.get("/ui/api/authors").json()["size"] == 20


@pytest.mark.parametrize("params", [{"size": 0}, {"size": 101}, {"page": 0}, {"page": "two"}])
def test_bad_paging_is_422_with_a_one_line_detail(make_client, params):
    response = make_client().get("/ui/api/authors", params=params)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str) and next(iter(params)) in detail


def test_documents_are_paginated_and_never_carry_content(make_client, memory_documents):  # noqa: F811
    client = make_client()
    ada = add_author(memory_documents, "Ada", "Lovelace", articles=3, posts=1, repositories=1)
    add_author(memory_documents, "Bob", "Other", articles=2)
    url = f"/ui/api/authors/{ada.id}/documents"

    page_one = client.get(url, params={"category": "articles", "size": 2}).json()
    page_two = client.get(url, params={"category": "articles", "size": 2, "page": 2}).json()
    repositories = client.get(url, params={"category": "repositories"}).json()
    posts = client.get(url, params={"category": "posts"}).json()

    assert (page_one["total"], len(page_one["documents"]), len(page_two["documents"])) == (3, 2, 1)
    links = [doc["link"] for doc in page_one["documents"] + page_two["documents"]]
    assert sorted(links) == [f"https://blog.example/ada-lovelace/{n}" for n in range(3)]
    document = page_one["documents"][0]
    assert set(document) == {"id", "title", "link", "platform"}
    assert document["title"].startswith("<b>Article ")  # the stored string as it is; the page escapes it
    assert "script" not in json.dumps(page_one)
    assert repositories["documents"][0] | {"id": None} == {
        "id": None,
        "title": "repo-0",
        "link": "https://github.com/ada-lovelace/repo-0",
        "platform": "github",
    }
    assert posts["documents"][0]["title"] is None  # a post has no title; its text is not sent
    assert posts["documents"][0]["link"] == "https://www.linkedin.com/posts/ada-lovelace-0"
    assert client.get(url, params={"page": 9}).json() == {"documents": [], "page": 9, "size": 20, "total": 3}


def test_unknown_author_is_404_and_bad_category_422(make_client, memory_documents):  # noqa: F811
    client = make_client()
    ada = add_author(memory_documents, "Ada", "Lovelace")
    for author_id in (uuid.uuid4(), "not-a-uuid"):
        response = client.get(f"/ui/api/authors/{author_id}/documents")
        assert response.status_code == 404
        assert response.json() == {"detail": f"unknown author '{author_id}'"}
    response = client.get(f"/ui/api/authors/{ada.id}/documents", params={"category": "tweets"})
    assert response.status_code == 422 and "category" in response.json()["detail"]


def test_an_unreachable_warehouse_is_503_naming_it(make_client, memory_warehouse):  # noqa: F811
    client = make_client()

    def down(*_, **__):
        raise WarehouseUnavailableError("no server on 127.0.0.1:27017")

    memory_warehouse.find = down  # type: ignore[method-assign]
    response = client.get("/ui/api/authors")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("data warehouse (MongoDB) unavailable: ")


# --- Starting a crawl --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "link",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",
        "http://0x7f000001/",
        "http://[::1]:8000/docs",
        "http://127.0.0.1:8000/retrieve",
        "http://localhost:8000/",
        "http://metadata.example/computeMetadata/v1/",  # a name whose DNS answer is the metadata address
    ],
)
def test_links_to_private_or_metadata_addresses_are_422_naming_the_policy(make_client, link):
    client = make_client()
    response = crawl(client, ["https://blog.example/fine", link])
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert repr(link) in detail and "refused to connect" in detail and "CRAWL_ALLOW_PRIVATE_NETWORKS" in detail
    assert client.jobs.jobs() == []


def test_private_networks_allowed_by_setting_but_metadata_never(make_client):
    client = make_client(CRAWL_ALLOW_PRIVATE_NETWORKS=True)
    assert crawl(client, ["http://10.0.0.1/wiki/page", "http://127.0.0.1:8000/post"]).status_code == 202
    response = crawl(make_client(CRAWL_ALLOW_PRIVATE_NETWORKS=True), ["http://169.254.169.254/latest/"])
    assert response.status_code == 422 and "link-local" in response.json()["detail"]


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("htp//broken-link", "no scheme"),
        ("ftp://files.example/a", "unsupported URL scheme"),
        ("file:///etc", "only http:// and https://"),
        ("/home/me/repo", "only http:// and https://"),
        ("https:///no-host", "no host"),
        ("https://example.com:99999/", "malformed"),
        ("https://www.linkedin.com/in/ada/recent-activity/", "LINKEDIN_USERNAME"),
    ],
)
def test_links_no_crawler_can_take_are_422_naming_them(make_client, link, reason):
    client = make_client()
    response = crawl(client, ["https://blog.example/fine", link])
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert repr(link) in detail and reason in detail and "blog.example/fine" not in detail
    assert client.jobs.jobs() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"author_full_name": "Ada", "links": ["https://a.example"]}, "author_full_name"),
        ({"author_full_name": "  ", "links": ["https://a.example"]}, "author_full_name"),
        ({"author_full_name": "Ada Lovelace", "links": []}, "links"),
        ({"author_full_name": "Ada Lovelace", "links": ["  "]}, "links"),
        ({"author_full_name": "Ada Lovelace", "links": [f"https://a.example/{n}" for n in range(21)]}, "links"),
        ({"author_full_name": "Ada Lovelace", "links": ["https://a.example"], "extra": 1}, "extra"),
        ({"links": ["https://a.example"]}, "author_full_name"),
    ],
)
def test_request_validation_is_422_naming_the_field(make_client, body, field):
    response = make_client().post("/ui/api/links", json=body)
    assert response.status_code == 422
    assert field in response.json()["detail"]


def test_a_crawl_job_runs_etl_then_features_and_reports_each_stage(make_client):
    runner = FakeRunner(gated=True)
    client = make_client(runner)
    links = ["https://blog.example/a", " https://medium.com/@ada/post ", "https://github.com/ada/engine"]

    response = crawl(client, [*links, "https://blog.example/a"], name="  Ada   Lovelace ")

    assert response.status_code == 202, response.text
    job = response.json()["job"]
    job_id = job["id"]
    assert job["status"] == "queued" and job["kind"] == "crawl" and job["stage"] is None
    assert job["author_full_name"] == "Ada Lovelace"
    assert job["links"] == ["https://blog.example/a", "https://medium.com/@ada/post", "https://github.com/ada/engine"]
    assert job["crawlers"] == dict(zip(job["links"], ["custom_article", "medium", "github"], strict=True))
    assert job["runs"] == [] and job["error"] is None and job["finished_at"] is None

    assert runner.next_stage() == "digital_data_etl"
    running = client.get(f"/ui/api/jobs/{job_id}").json()
    assert (running["status"], running["stage"]) == ("running", "digital_data_etl")
    assert running["runs"][0]["status"] == "running" and running["runs"][0]["dashboard_url"] is None
    runner.proceed.release()

    assert runner.next_stage() == "feature_engineering"
    featuring = client.get(f"/ui/api/jobs/{job_id}").json()
    assert featuring["stage"] == "feature_engineering"
    assert [run["status"] for run in featuring["runs"]] == ["completed", "running"]
    runner.proceed.release()

    done = client.jobs.wait(job_id, WAIT_S)
    assert (done["status"], done["stage"], done["error"]) == ("succeeded", None, None)
    assert done["finished_at"] >= done["created_at"]
    assert [run["pipeline"] for run in done["runs"]] == ["digital_data_etl", "feature_engineering"]
    assert all(run["dashboard_url"] == f"http://dashboard.test/runs/{run['run_name']}" for run in done["runs"])
    assert done["runs"][0]["summary"] == {"succeeded": 1}
    assert [(call[0], call[1]) for call in runner.calls] == [
        ("digital_data_etl", {"user_full_name": "Ada Lovelace", "links": job["links"]}),
        ("feature_engineering", {"author_full_names": ["Ada Lovelace"]}),
    ]
    assert runner.calls[0][2] != runner.calls[1][2] and job_id[:8] in runner.calls[0][2]
    assert client.get(f"/ui/api/jobs/{job_id}").json() == done


@pytest.mark.parametrize(
    ("fail_at", "error", "expected"),
    [
        ("digital_data_etl", RuntimeError("boom"), "digital_data_etl: RuntimeError: boom"),
        (
            "feature_engineering",
            PipelineRunFailed("feature_engineering", "fe_run", "ValueError: no documents", "http://dash/fe_run"),
            "feature_engineering: ValueError: no documents",
        ),
    ],
)
def test_a_failing_stage_fails_the_job_with_its_error(make_client, fail_at, error, expected):
    runner = FakeRunner(fail_at=fail_at, error=error)
    client = make_client(runner)
    job_id = crawl(client).json()["job"]["id"]

    done = client.jobs.wait(job_id, WAIT_S)

    assert (done["status"], done["stage"], done["error"]) == ("failed", fail_at, expected)
    assert done["finished_at"] is not None
    assert done["runs"][-1]["status"] == "failed" and done["runs"][-1]["pipeline"] == fail_at
    assert done["runs"][-1]["dashboard_url"] == getattr(error, "dashboard_url", None)
    assert len(runner.calls) == (1 if fail_at == "digital_data_etl" else 2)
    # A failed crawl does not block the next one.
    assert crawl(client).status_code == 202


def test_a_run_that_ends_not_completed_fails_the_job():
    class StoppedRunner:
        def __call__(self, pipeline, parameters, run_name):
            return RunResult("stopped", "http://dash/x")

    jobs = JobRunner(StoppedRunner(), start_thread=lambda target, name: target())
    done = jobs.start_crawl("Ada Lovelace", ["https://a.example"])
    done = jobs.job(done["id"])
    assert done["status"] == "failed" and done["error"] == "digital_data_etl: ended stopped"
    assert done["runs"][0]["dashboard_url"] == "http://dash/x"


def test_a_second_crawl_while_one_runs_is_409(make_client):
    runner = FakeRunner(gated=True)
    client = make_client(runner)
    first = crawl(client).json()["job"]
    assert runner.next_stage() == "digital_data_etl"

    response = crawl(client, ["https://other.example/x"], name="Grace Hopper")

    assert response.status_code == 409
    assert response.json() == {"detail": f"a crawl is already running (job {first['id']})"}
    runner.proceed.release()
    runner.proceed.release()
    assert client.jobs.wait(first["id"], WAIT_S)["status"] == "succeeded"
    assert crawl(client, name="Grace Hopper").status_code == 202


def test_jobs_are_listed_newest_first_and_only_the_last_ones_kept(make_client):
    client = make_client()
    ids = []
    for _ in range(3):
        job_id = crawl(client).json()["job"]["id"]
        client.jobs.wait(job_id, WAIT_S)
        ids.append(job_id)
    assert [job["id"] for job in client.get("/ui/api/jobs").json()["jobs"]] == ids[::-1]
    response = client.get("/ui/api/jobs/nope")
    assert response.status_code == 404 and response.json() == {"detail": "unknown job 'nope'"}

    jobs = JobRunner(FakeRunner(), max_jobs=2, start_thread=lambda target, name: target())
    kept = [jobs.start_crawl("Ada Lovelace", ["https://a.example"])["id"] for _ in range(3)]
    assert [job["id"] for job in jobs.jobs()] == kept[:0:-1]


def test_job_runner_refuses_a_second_crawl_directly():
    jobs = JobRunner(FakeRunner(), start_thread=lambda target, name: None)  # never runs: stays queued
    first = jobs.start_crawl("Ada Lovelace", ["https://a.example"])
    with pytest.raises(JobAlreadyRunning, match=first["id"]):
        jobs.start_crawl("Grace Hopper", ["https://b.example"])


# --- Write protection --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 202),  # no browser: curl, scripts
        ({"Origin": BASE_URL}, 202),
        ({"Origin": BASE_URL + "/", "Sec-Fetch-Site": "same-origin"}, 202),
        ({"Sec-Fetch-Site": "same-origin"}, 202),
        ({"Sec-Fetch-Site": "none"}, 202),
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "http://127.0.0.1:9999"}, 403),
        ({"Origin": "https://127.0.0.1:8000"}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
    ],
)
def test_writes_are_same_origin_only(make_client, headers, status):
    response = crawl(make_client(), **headers)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json() == {"detail": "cross-origin request refused"}


def test_default_ports_count_as_the_same_origin(make_client):
    client = make_client(base_url="http://localhost")
    assert crawl(client, Origin="http://localhost:80").status_code == 202


def test_without_a_token_writes_must_name_a_loopback_host(make_client):
    client = make_client(base_url="http://twin.lan:8000")
    response = crawl(client, Origin="http://twin.lan:8000")
    assert response.status_code == 403 and "API_UI_TOKEN" in response.json()["detail"]
    assert (
        make_client(base_url="http://twin.lan:8000", API_UI_TOKEN="s3cret")
        .post(
            "/ui/api/links",
            json={"author_full_name": "Ada Lovelace", "links": ["https://a.example"]},
            headers={"X-Twin-Token": "s3cret", "Origin": "http://twin.lan:8000"},
        )
        .status_code
        == 202
    )


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-Twin-Token": "wrong"}, 401),
        ({"X-Twin-Token": "s3cret-token "}, 401),
        ({"X-Twin-Token": "s3cret-token"}, 202),
        ({"X-Twin-Token": "s3cret-token", "Origin": "http://evil.example"}, 403),
    ],
)
def test_a_configured_token_is_required_for_writes(make_client, headers, status):
    client = make_client(API_UI_TOKEN="s3cret-token")
    response = crawl(client, **headers)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.json() == {"detail": "missing or wrong X-Twin-Token header"}
    assert client.get("/ui/api/authors").status_code == 200  # reads need no token


def test_write_checks_come_before_body_validation(make_client):
    response = make_client().post("/ui/api/links", json={}, headers={"Origin": "http://evil.example"})
    assert response.status_code == 403


# --- Switch, models, the rest of the service ---------------------------------------------------------------
def test_the_ui_routes_are_absent_when_disabled(make_client):
    client = make_client(API_ENABLE_UI=False)
    assert client.get("/ui/api/authors").status_code == 404
    assert client.get("/ui/api/models").status_code == 404
    assert crawl(client).status_code == 404
    assert client.get("/health").json() == {"status": "ok"}


def test_other_routes_keep_fastapis_validation_errors(make_client):
    detail = make_client().post("/rag", json={}).json()["detail"]
    assert isinstance(detail, list) and detail[0]["loc"] == ["body", "query"]


def test_models_with_an_empty_registry_and_no_reports(make_client):
    body = make_client(LLM_MODEL_ID="twin-v1", LLM_BASE_URL="http://user:pw@127.0.0.1:8001/v1").get("/ui/api/models")
    assert body.status_code == 200
    assert body.json() == {
        "llm": {"provider": "openai", "model_id": "twin-v1", "endpoint": "http://127.0.0.1:8001/v1"},
        "served": {
            "model_id": "twin-v1",
            "spec": None,
            "source": "LLM_MODEL_ID",
            "why": "set by LLM_MODEL_ID",
            "chosen_at": None,
            "by": None,
            "reason": None,
            "overridden": True,
            "local": {"model_id": "gemma-3-270m-twin", "spec": "base"},
            "base_spec": "base",
            "base_model_id": "gemma-3-270m-twin",
        },
        "registered": [],
        "evaluation_report": None,
    }


def _register(root: Path, name: str, version: int, **card) -> None:
    folder = root / name / f"v{version}"
    folder.mkdir(parents=True)
    card = {"name": name, "version": version, "spec": f"{name}:v{version}", "merged_dir": "sft/merged", **card}
    (folder / "model_card.json").write_text(json.dumps(card))


def _report(folder: Path, rows: list[dict], mtime: float) -> Path:
    folder.mkdir(parents=True)
    path = folder / "report.json"
    path.write_text(json.dumps({"title": "eval", "created_at": "2026-01-01T00:00:00Z", "models": ["a"], "rows": rows}))
    os.utime(path, (mtime, mtime))
    return path


def test_models_lists_versions_production_and_the_newest_report(make_client, tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    _register(
        registry.root,
        "llm_twin",
        1,
        created_at="2026-01-01T00:00:00+00:00",
        stages=[{"stage": "sft"}],
        metrics={"heldout_instruct_base_loss": 3.3, "heldout_instruct_sft_loss": 3.1, "heldout_improved": True},
    )
    _register(registry.root, "llm_twin", 2, stages=[{"stage": "sft"}, {"stage": "dpo"}], evaluation={"gate": "ok"})
    (registry.root / "llm_twin" / "v3").mkdir()  # incomplete: no card, not a version
    registry.promote("llm_twin", 1)
    reports = tmp_path / "evaluation"
    _report(reports / "old", [{"model": "a", "metric": "rouge_l", "mean": 0.1}], mtime=1_000)
    newest = _report(reports / "new", [{"model": "a", "metric": "rouge_l", "mean": 0.2}], mtime=2_000)

    body = make_client().get("/ui/api/models").json()

    assert body["registered"] == [
        {
            "spec": "llm_twin:v2",
            "created_at": None,
            "stages": ["sft", "dpo"],
            "production": False,
            "heldout_loss": None,
            "evaluation": {"gate": "ok"},
            "served": False,
        },
        {
            "spec": "llm_twin:v1",
            "created_at": "2026-01-01T00:00:00+00:00",
            "stages": ["sft"],
            "production": True,
            "heldout_loss": {"instruct_base": 3.3, "instruct_sft": 3.1},
            "evaluation": None,
            "served": True,  # nothing chosen: the production version is served
        },
    ]
    assert body["evaluation_report"] == {
        "path": str(newest),
        "title": "eval",
        "created_at": "2026-01-01T00:00:00Z",
        "models": {"a": {"rouge_l": 0.2}},
    }


def test_a_broken_card_or_report_is_skipped(make_client, tmp_path):
    root = tmp_path / "registry" / "llm_twin" / "v1"
    root.mkdir(parents=True)
    (root / "model_card.json").write_text("{not json")
    (tmp_path / "evaluation" / "broken").mkdir(parents=True)
    (tmp_path / "evaluation" / "broken" / "report.json").write_text("[1, 2]")
    body = make_client().get("/ui/api/models").json()
    assert body["registered"] == [] and body["evaluation_report"] is None


# --- The ZenML runner's config --------------------------------------------------------------------------
def test_each_pipeline_config_gets_the_jobs_parameters(tmp_path):
    import yaml

    for pipeline, parameters in {
        "digital_data_etl": {"user_full_name": "Ada Lovelace", "links": ["https://a.example"]},
        "feature_engineering": {"author_full_names": ["Ada Lovelace"]},
    }.items():
        config = CATALOGUE.config_path(pipeline)
        written = yaml.safe_load(config_with_parameters(config, parameters, tmp_path).read_text())
        original = CATALOGUE.parameters(pipeline)
        assert written["parameters"] == {**original, **parameters}


def test_pipeline_steps_share_the_services_stores(tmp_path):
    from llm_engineering.bootstrap.pipeline_runs import share_stores_with_steps
    from tests.fixtures.memory_warehouse import MemoryWarehouse

    settings = load_settings(env_file=tmp_path / "none.env")
    service = Container(settings, warehouse=MemoryWarehouse(), vector_store=DummyVectorStore())
    bootstrap.reset()
    try:
        share_stores_with_steps(service)
        current = bootstrap.container()
        assert current.warehouse() is service.warehouse() and current.vector_store() is service.vector_store()
        share_stores_with_steps(service)
        share_stores_with_steps(current)
        assert bootstrap.container() is current  # already shared: not configured again
    finally:
        bootstrap.reset()


def test_run_summary_merges_the_metadata_it_finds():
    from types import SimpleNamespace

    from llm_engineering.bootstrap.pipeline_runs import run_summary

    def artifact(**metadata):
        return SimpleNamespace(outputs={name: [SimpleNamespace(run_metadata=metadata)] for name in ("crawled_links",)})

    run = SimpleNamespace(steps={"crawl_links": artifact(summary={"tried": 2, "succeeded": 1}, other=1)})
    assert run_summary(run, CATALOGUE["digital_data_etl"].summary) == {"tried": 2, "succeeded": 1}
    assert run_summary(SimpleNamespace(steps={}), CATALOGUE["feature_engineering"].summary) is None
