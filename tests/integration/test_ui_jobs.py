"""A crawl started from the web UI's JSON API runs the real ZenML pipelines (`digital_data_etl`, then
`feature_engineering`) in the service's process: fixture pages on 127.0.0.1, a real nx-27017 warehouse,
Qdrant in local mode, the real MiniLM embedder."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from llm_engineering.domain.documents import ArticleDocument, UserDocument
from tests.fixtures.crawl_server import allow_private_networks, crawl_site  # noqa: F401  (fixtures found by name)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BASE_URL = "http://127.0.0.1:8000"
JOB_TIMEOUT_S = 480


def wait_for_job(client: TestClient, job_id: str, timeout_s: float = JOB_TIMEOUT_S) -> dict:
    """Poll `GET /ui/api/jobs/{id}` as the page does until the job ended."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/ui/api/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {job['status']} ({job['stage']}) after {timeout_s:.0f}s")


def test_a_ui_crawl_job_runs_both_pipelines_and_adds_the_authors_documents(
    documents,
    vector_index,
    crawl_site,  # noqa: F811 - the fixture imported above
    allow_private_networks,  # noqa: F811 - the fixture site is on 127.0.0.1
):
    from llm_engineering import bootstrap
    from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk
    from llm_engineering.entrypoints.api import create_app
    from pipelines.catalogue import CATALOGUE

    # The author already has one article: the job must add to it, not replace it.
    ada = documents.save(UserDocument(first_name="Ada", last_name="Lovelace"))
    documents.save(
        ArticleDocument(
            content={"Title": "Notes", "Content": "An earlier note on engines. " * 20},
            platform="ada.example",
            link="https://ada.example/notes",
            author_id=ada.id,
            author_full_name=ada.full_name,
        )
    )
    # The process's container holds the fixtures' warehouse and vector store; the app and the pipelines'
    # steps share it.
    container = bootstrap.container()
    app = create_app(container.settings, container=container, warm_up_on_start=False, pipelines=CATALOGUE)
    client = TestClient(app, base_url=BASE_URL)
    before = client.get("/ui/api/authors").json()["authors"]
    assert [(author["full_name"], author["counts"]["articles"]) for author in before] == [("Ada Lovelace", 1)]
    links = [crawl_site.url("/blog/post.html"), crawl_site.url("/substack/post.html")]

    response = client.post(
        "/ui/api/links",
        json={"author_full_name": "Ada Lovelace", "links": links},
        headers={"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"},
    )

    assert response.status_code == 202, response.text
    started = response.json()["job"]
    assert started["crawlers"] == {link: "custom_article" for link in links}
    job = wait_for_job(client, started["id"])
    assert job["status"] == "succeeded", job["error"]
    assert [(run["pipeline"], run["status"]) for run in job["runs"]] == [
        ("digital_data_etl", "completed"),
        ("feature_engineering", "completed"),
    ]
    assert job["runs"][0]["summary"]["succeeded"] == 2
    assert job["runs"][1]["summary"]["num_documents"] == 3
    # No ZenML server in tests: the local dashboard's page of the run.
    assert job["runs"][0]["dashboard_url"].startswith("http://127.0.0.1:8237/projects/default/runs/")

    after = client.get("/ui/api/authors").json()["authors"]
    assert [(author["full_name"], author["counts"]["articles"]) for author in after] == [("Ada Lovelace", 3)]
    page = client.get(f"/ui/api/authors/{ada.id}/documents", params={"category": "articles"}).json()
    assert {document["link"] for document in page["documents"]} == {"https://ada.example/notes", *links}
    assert vector_index.count(EmbeddedArticleChunk, author_full_name="Ada Lovelace") >= 3
    assert [listed["id"] for listed in client.get("/ui/api/jobs").json()["jobs"]] == [job["id"]]
