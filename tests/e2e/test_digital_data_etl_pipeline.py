"""The `digital_data_etl` ZenML pipeline end to end: fixture site on 127.0.0.1, a local git repository,
headless Chromium for the Medium-like route, a real nx-27017 warehouse; then a second, idempotent run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument, UserDocument
from tests.fixtures.crawl_server import (  # noqa: F401  (fixtures are found by name)
    GIT_FIXTURE_MAX_FILE_BYTES,
    PAGE_TIMEOUT_S,
    crawl_site,
    git_repository,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def crawl_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Small limits so the failure cases resolve in seconds (the page timeout still generous enough for a busy
    machine: only /slow reaches it); the step reads them from settings."""
    from llm_engineering.settings import get_settings

    for name, value in {
        "CRAWL_ALLOW_PRIVATE_NETWORKS": "true",  # the fixture site and repository are on this machine
        "CRAWL_MAX_WORKERS": "4",
        "CRAWL_PER_DOMAIN_LIMIT": "3",
        "CRAWL_PAGE_TIMEOUT_S": str(PAGE_TIMEOUT_S),
        "CRAWL_MAX_PAGE_BYTES": "200000",
        "CRAWL_SCROLL_PAUSE_S": "0.05",
        "GITHUB_MAX_FILE_BYTES": str(GIT_FIXTURE_MAX_FILE_BYTES),
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _crawl_metadata(run) -> dict:
    artifact = run.steps["crawl_links"].outputs["crawled_links"][0]
    return dict(artifact.run_metadata)


def test_digital_data_etl_crawls_records_failures_and_is_idempotent(
    documents,
    vector_store,
    crawl_site,  # noqa: F811 - the fixture imported above
    git_repository,  # noqa: F811 - the fixture imported above
    crawl_settings,
):
    from pipelines.digital_data_etl import digital_data_etl

    site = crawl_site.netloc
    links = [
        crawl_site.url("/medium/article.html"),
        crawl_site.url("/substack/post.html"),
        crawl_site.url("/blog/post.html"),
        git_repository.as_uri(),
        crawl_site.url("/missing.html"),
        crawl_site.url("/download.zip"),
        crawl_site.url("/slow"),
        crawl_site.url("/linkedin/feed.html"),
        "htp//broken-link",
    ]
    routes = {f"{site}/medium": "medium", f"{site}/linkedin": "linkedin"}

    first = digital_data_etl.with_options(enable_cache=False)(
        user_full_name="Paul Iusztin", links=links, crawler_routes=routes
    )

    user = documents.find(UserDocument, first_name="Paul", last_name="Iusztin")
    assert user is not None
    articles = {article.link: article for article in documents.bulk_find(ArticleDocument, author_id=str(user.id))}
    assert set(articles) == set(links[:3])
    medium = articles[crawl_site.url("/medium/article.html")]
    assert medium.platform == "medium" and medium.content["Title"] == "Streaming pipelines for LLM twins 🚀"
    assert "Sign in" not in medium.content["Content"]
    assert articles[crawl_site.url("/substack/post.html")].platform == site
    repository = documents.find(RepositoryDocument, link=git_repository.as_uri())
    assert repository.author_full_name == "Paul Iusztin" and "src/twin/app.py" in repository.content
    assert documents.count(PostDocument) == 0

    user_metadata = dict(first.steps["get_or_create_user"].outputs["user"][0].run_metadata)
    assert user_metadata["query"] == {"user_full_name": "Paul Iusztin"}
    assert user_metadata["retrieved"]["user_id"] == str(user.id)

    metadata = _crawl_metadata(first)
    assert metadata["summary"] == {
        "tried": 9,
        "succeeded": 4,
        "skipped_already_crawled": 0,
        "skipped_low_content": 0,
        "failed": 5,
        "documents": 4,
        "duplicates_in_input": 0,
    }
    site_key = site.replace(":", "_")  # ZenML refuses colons in metadata keys
    assert {key: metadata[site_key][key] for key in ("tried", "succeeded", "failed")} == {
        "tried": 7,
        "succeeded": 3,
        "failed": 4,
    }
    reasons = {failure["link"]: failure["kind"] for failure in metadata[site_key]["failures"]}
    assert reasons == {
        crawl_site.url("/missing.html"): "http_error",
        crawl_site.url("/download.zip"): "not_html",
        crawl_site.url("/slow"): "timeout",
        crawl_site.url("/linkedin/feed.html"): "needs_credentials",
    }
    assert metadata["invalid"]["failures"][0]["kind"] == "malformed_url"
    assert metadata["local"]["succeeded"] == 1
    crawled = first.steps["crawl_links"].outputs["crawled_links"][0].load()
    assert crawled == links[:4]

    second = digital_data_etl.with_options(enable_cache=False)(
        user_full_name="Paul Iusztin", links=links, crawler_routes=routes
    )

    again = _crawl_metadata(second)["summary"]
    assert (again["succeeded"], again["skipped_already_crawled"], again["failed"]) == (0, 4, 5)
    assert documents.count(ArticleDocument) == 3 and documents.count(RepositoryDocument) == 1
    assert documents.count(UserDocument) == 1
