"""The crawl orchestration with fake crawlers and an in-memory warehouse: limits, reuse, outcomes."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from llm_engineering.application.crawlers.base import BaseCrawler, CrawlerContext
from llm_engineering.application.crawlers.crawl_run import crawl_links, link_domain, validate_link
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.errors import LowContentError
from llm_engineering.domain.crawling import CrawlErrorKind, CrawlStatus
from llm_engineering.domain.documents import ArticleDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, WarehouseUnavailableError
from tests.waiting import CEILING_S


@pytest.fixture
def user() -> UserDocument:
    return UserDocument(first_name="Paul", last_name="Iusztin")


@pytest.fixture
def context(memory_documents) -> CrawlerContext:
    """The crawlers' context of a run storing into the in-memory warehouse."""
    return CrawlerContext(memory_documents)


class RecordingCrawler(BaseCrawler):
    """Stores an article per link and records how many run at once, per domain and overall."""

    model = ArticleDocument
    name = "recording"
    lock = threading.Lock()
    running: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    instances: list[RecordingCrawler] = []
    barrier: threading.Barrier | None = None

    def __init__(self, context: CrawlerContext):
        super().__init__(context)
        self.links: list[str] = []
        self.closed = False
        with self.lock:
            self.instances.append(self)

    def extract(self, link: str, user: UserDocument) -> int:
        domain = link_domain(link)
        with self.lock:
            self.running[domain] += 1
            self.running["*"] += 1
            self.peak[domain] = max(self.peak[domain], self.running[domain])
            self.peak["*"] = max(self.peak["*"], self.running["*"])
        try:
            if self.barrier is not None:
                self.barrier.wait(timeout=CEILING_S)  # only passes if that many links really run at the same time
            self.links.append(link)
            if "fail" in link:
                raise CrawlError(CrawlErrorKind.HTTP_ERROR, f"HTTP 503 from {link}")
            if "boom" in link:
                raise RuntimeError("parser exploded")
            if "link-farm" in link:
                raise LowContentError("mostly links: 99% of the text is the text of links")
            if "crash" in link:
                self.broken = True
                raise CrawlError(CrawlErrorKind.BROWSER_ERROR, "browser crashed")
            return self._save(
                ArticleDocument(
                    content={"Content": link},
                    link=link,
                    platform=domain,
                    author_id=user.id,
                    author_full_name=user.full_name,
                )
            )
        finally:
            with self.lock:
                self.running[domain] -= 1
                self.running["*"] -= 1

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def recording() -> Iterator[type[RecordingCrawler]]:
    RecordingCrawler.running = Counter()
    RecordingCrawler.peak = Counter()
    RecordingCrawler.instances = []
    RecordingCrawler.barrier = None
    yield RecordingCrawler


@pytest.fixture
def dispatcher(recording) -> CrawlerDispatcher:
    return CrawlerDispatcher.build().register_pattern(r"^https?://", recording)


def _links(domain: str, count: int) -> list[str]:
    return [f"https://{domain}/post-{number}" for number in range(count)]


def test_pool_runs_links_concurrently_within_the_global_and_per_domain_limits(user, dispatcher, recording, context):
    links = _links("a.example", 12) + _links("b.example", 12)
    recording.barrier = threading.Barrier(4)  # 4 workers busy at once, or the barrier times out

    report = crawl_links(user, links, dispatcher, context, max_workers=4, per_domain_limit=2, show_progress=False)

    assert report.succeeded == 24 and report.failed == 0
    assert recording.peak["*"] == 4
    assert recording.peak["a.example"] == 2 and recording.peak["b.example"] == 2
    # One crawler instance per worker thread, reused across links, all closed at the end.
    assert len(recording.instances) <= 4
    assert sum(len(instance.links) for instance in recording.instances) == 24
    assert all(instance.closed for instance in recording.instances)


def test_outcomes_reasons_and_metadata(user, dispatcher, recording, context):
    links = [
        "https://a.example/ok",
        "https://a.example/fail",
        "https://b.example/boom",
        "mailto:someone@example.com",
        "medium.com/no-scheme",
        "https://a.example/ok",
        "https://a.example/link-farm",
    ]

    report = crawl_links(user, links, dispatcher, context, max_workers=2, per_domain_limit=1, show_progress=False)

    assert [outcome.status for outcome in report.outcomes] == [
        CrawlStatus.SUCCEEDED,
        CrawlStatus.FAILED,
        CrawlStatus.FAILED,
        CrawlStatus.FAILED,
        CrawlStatus.FAILED,
        CrawlStatus.SKIPPED_LOW_CONTENT,
    ]
    boom = report.outcomes[2]
    assert boom.error_kind is CrawlErrorKind.UNEXPECTED and boom.reason == "RuntimeError: parser exploded"
    assert report.outcomes[3].error_kind is CrawlErrorKind.UNSUPPORTED_SCHEME
    assert report.outcomes[4].error_kind is CrawlErrorKind.MALFORMED_URL
    farm = report.outcomes[5]
    assert farm.reason == "mostly links: 99% of the text is the text of links" and farm.error_kind is None
    assert context.documents.find(ArticleDocument, link="https://a.example/link-farm") is None
    assert report.by_domain()["a.example"] == {
        "tried": 3,
        "succeeded": 1,
        "skipped_already_crawled": 0,
        "skipped_low_content": 1,
        "failed": 1,
        "documents": 1,
        "failures": [
            {"link": "https://a.example/fail", "kind": "http_error", "reason": "HTTP 503 from https://a.example/fail"}
        ],
        "low_content": [
            {"link": "https://a.example/link-farm", "reason": "mostly links: 99% of the text is the text of links"}
        ],
    }
    assert report.totals() == {
        "tried": 6,
        "succeeded": 1,
        "skipped_already_crawled": 0,
        "skipped_low_content": 1,
        "failed": 4,
        "documents": 1,
        "duplicates_in_input": 1,
    }
    assert re.fullmatch(
        r"Crawled 6 links: 1 succeeded, 0 skipped \(already crawled\), 1 skipped \(low content\), 4 failed; "
        r"1 documents stored\.",
        report.summary_line(),
    )


def test_links_already_stored_are_skipped_without_crawling(user, dispatcher, recording, context):
    links = _links("a.example", 3)
    crawl_links(user, links[:2], dispatcher, context, show_progress=False)
    recording.instances.clear()

    report = crawl_links(user, links, dispatcher, context, show_progress=False)

    assert [outcome.status for outcome in report.outcomes] == [
        CrawlStatus.SKIPPED_ALREADY_CRAWLED,
        CrawlStatus.SKIPPED_ALREADY_CRAWLED,
        CrawlStatus.SUCCEEDED,
    ]
    assert [link for instance in recording.instances for link in instance.links] == [links[2]]
    assert context.documents.count(ArticleDocument) == 3


def test_a_broken_crawler_is_replaced_for_the_next_link(user, dispatcher, recording, context):
    links = ["https://a.example/crash", "https://a.example/after"]

    report = crawl_links(user, links, dispatcher, context, max_workers=1, show_progress=False)

    assert [outcome.status for outcome in report.outcomes] == [CrawlStatus.FAILED, CrawlStatus.SUCCEEDED]
    assert len(recording.instances) == 2 and recording.instances[0].closed


def test_an_unreachable_warehouse_stops_the_run(user, dispatcher, recording, memory_warehouse, context):
    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise WarehouseUnavailableError("warehouse down")

    memory_warehouse.insert_one = unavailable  # type: ignore[method-assign]

    with pytest.raises(WarehouseUnavailableError):
        crawl_links(user, _links("a.example", 3), dispatcher, context, max_workers=1, show_progress=False)
    assert all(instance.closed for instance in recording.instances)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("", CrawlErrorKind.MALFORMED_URL),
        (None, CrawlErrorKind.MALFORMED_URL),
        ("https://exa mple.com/x", CrawlErrorKind.MALFORMED_URL),
        ("https:///no-host", CrawlErrorKind.MALFORMED_URL),
        ("http://example.com:99999/", CrawlErrorKind.MALFORMED_URL),
        ("example.com/post", CrawlErrorKind.MALFORMED_URL),
        ("ftp://example.com/x", CrawlErrorKind.UNSUPPORTED_SCHEME),
        ("javascript:alert(1)", CrawlErrorKind.UNSUPPORTED_SCHEME),
        ("https:example.com", CrawlErrorKind.MALFORMED_URL),
    ],
)
def test_invalid_links_are_rejected_with_a_kind(raw, kind):
    with pytest.raises(CrawlError) as caught:
        validate_link(raw)
    assert caught.value.kind is kind


def test_valid_links_and_their_domains():
    assert validate_link("  https://Medium.com/p/1  ") == "https://Medium.com/p/1"
    assert link_domain("https://Medium.com/p/1") == "medium.com"
    assert link_domain("http://127.0.0.1:8080/x") == "127.0.0.1:8080"
    assert link_domain(validate_link("file:///srv/repo")) == "local"
    assert link_domain(validate_link("/srv/repo")) == "local"


def test_limits_must_be_positive(user, dispatcher, context):
    with pytest.raises(ValueError, match="at least 1"):
        crawl_links(user, [], dispatcher, context, max_workers=0)


class BrowserLikeCrawler(RecordingCrawler):
    """Counts as a browser crawler for the pool's browser cap."""

    uses_browser = True
    name = "browser_like"


def test_browser_links_respect_their_own_cap_and_share_instances(user, recording, context):
    dispatcher = (
        CrawlerDispatcher.build()
        .register_pattern(r"^https://browser\.example", BrowserLikeCrawler)
        .register_pattern(r"^https?://", recording)
    )
    links = _links("browser.example", 6) + _links("plain.example", 6)

    report = crawl_links(
        user,
        links,
        dispatcher,
        context,
        max_workers=6,
        per_domain_limit=6,
        max_browsers=2,
        show_progress=False,
    )

    assert report.succeeded == 12
    assert recording.peak["browser.example"] <= 2
    browser_instances = [instance for instance in recording.instances if isinstance(instance, BrowserLikeCrawler)]
    assert 1 <= len(browser_instances) <= 2  # at most one "browser" per concurrent browser slot
    assert sum(len(instance.links) for instance in browser_instances) == 6
