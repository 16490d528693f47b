"""The crawl orchestration end to end below ZenML: dispatcher, pool, real HTTP, git and nx-27017."""

from __future__ import annotations

import pytest

from llm_engineering.application.crawlers.base import CrawlerContext, CrawlLimits
from llm_engineering.application.crawlers.crawl_run import crawl_links
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.domain.crawling import CrawlErrorKind, CrawlStatus
from llm_engineering.domain.documents import ArticleDocument, RepositoryDocument, UserDocument
from llm_engineering.infrastructure.http_pages import HttpPageFetcher
from tests.fixtures.crawl_server import PAGE_TIMEOUT_S, local_egress

pytestmark = pytest.mark.integration


@pytest.fixture
def context(documents):
    def no_browser():
        raise AssertionError("no link of this test needs a browser")

    fetcher = HttpPageFetcher(timeout_s=PAGE_TIMEOUT_S, max_bytes=200_000, egress=local_egress())
    yield CrawlerContext(
        documents,
        limits=CrawlLimits(page_timeout_s=PAGE_TIMEOUT_S),
        egress=local_egress(),
        fetcher=fetcher,
        browser_factory=no_browser,
    )
    fetcher.close()


def test_mixed_links_are_crawled_concurrently_recorded_and_not_duplicated_on_rerun(
    documents, crawl_site, git_repository, context
):
    user = documents.get_or_create(UserDocument, first_name="Maxime", last_name="Labonne")
    dispatcher = (
        CrawlerDispatcher.build()
        .register(f"{crawl_site.netloc}/linkedin", "linkedin")
        .register_medium()
        .register_github()
        .register_local_git()
    )
    generated = [crawl_site.url(f"/generated/{number}.html") for number in range(8)]
    links = [
        crawl_site.url("/substack/post.html"),
        crawl_site.url("/blog/post.html"),
        crawl_site.url("/missing.html"),
        crawl_site.url("/data.json"),
        "not a url",
        "ftp://example.com/file",
        crawl_site.url("/substack/post.html"),  # duplicate in the input
        git_repository.as_uri(),
        crawl_site.url("/linkedin/feed.html"),
        *generated,
    ]

    report = crawl_links(user, links, dispatcher, context, max_workers=4, per_domain_limit=3, show_progress=False)

    by_link = {outcome.link: outcome for outcome in report.outcomes}
    assert [outcome.link for outcome in report.outcomes][:3] == links[:3]  # input order is kept
    assert report.duplicates_in_input == 1 and len(report.outcomes) == len(links) - 1
    assert by_link[crawl_site.url("/missing.html")].error_kind is CrawlErrorKind.HTTP_ERROR
    assert by_link[crawl_site.url("/data.json")].error_kind is CrawlErrorKind.NOT_HTML
    assert by_link["not a url"].error_kind is CrawlErrorKind.MALFORMED_URL
    assert by_link["ftp://example.com/file"].error_kind is CrawlErrorKind.UNSUPPORTED_SCHEME
    assert by_link[crawl_site.url("/linkedin/feed.html")].error_kind is CrawlErrorKind.NEEDS_CREDENTIALS
    assert by_link[git_repository.as_uri()].crawler == "github"
    assert report.succeeded == 2 + 1 + len(generated) and report.failed == 5
    assert documents.count(ArticleDocument, author_id=str(user.id)) == 2 + len(generated)
    assert documents.count(RepositoryDocument) == 1

    site = report.by_domain()[crawl_site.netloc]
    assert site["tried"] == 2 + 2 + 1 + len(generated)
    assert (site["succeeded"], site["failed"], site["skipped_already_crawled"]) == (2 + len(generated), 3, 0)
    assert {failure["kind"] for failure in site["failures"]} == {"http_error", "not_html", "needs_credentials"}
    assert report.by_domain()["local"]["succeeded"] == 1

    again = crawl_links(user, links, dispatcher, context, max_workers=4, per_domain_limit=3, show_progress=False)

    assert again.succeeded == 0 and again.skipped == 2 + 1 + len(generated) and again.failed == 5
    assert all(outcome.status is not CrawlStatus.SUCCEEDED for outcome in again.outcomes)
    assert documents.count(ArticleDocument) == 2 + len(generated) and documents.count(RepositoryDocument) == 1


def test_mojibake_and_link_farm_pages_are_read_right_or_recorded_and_never_stored_as_junk(
    documents, crawl_site, context
):
    user = documents.get_or_create(UserDocument, first_name="Maxime", last_name="Labonne")
    mojibake = crawl_site.url("/encoding/latin1-declared-utf16.html")
    link_farm = crawl_site.url("/lowcontent/link-farm.html")
    garbled = crawl_site.url("/encoding/garbled")

    report = crawl_links(user, [mojibake, link_farm, garbled], CrawlerDispatcher.build(), context, show_progress=False)

    decoded, farm, unreadable = report.outcomes
    assert decoded.status is CrawlStatus.SUCCEEDED
    assert "Cet été, j'ai affiné un modèle" in documents.find(ArticleDocument, link=mojibake).content["Content"]
    assert farm.status is CrawlStatus.SKIPPED_LOW_CONTENT and farm.reason.startswith("mostly links: ")
    assert documents.find(ArticleDocument, link=link_farm) is None
    assert unreadable.status is CrawlStatus.FAILED and unreadable.error_kind is CrawlErrorKind.BAD_ENCODING
    assert documents.count(ArticleDocument) == 1
    site = report.by_domain()[crawl_site.netloc]
    assert (site["succeeded"], site["skipped_low_content"], site["failed"]) == (1, 1, 1)
    assert site["low_content"] == [{"link": link_farm, "reason": farm.reason}]
    assert report.totals()["skipped_low_content"] == 1
    assert "1 skipped (low content)" in report.summary_line()

    # Not stored, so not "already crawled": a re-run fetches the page again and skips it again.
    again = crawl_links(user, [link_farm], CrawlerDispatcher.build(), context, show_progress=False)
    assert again.skipped_low_content == 1 and again.skipped == 0
