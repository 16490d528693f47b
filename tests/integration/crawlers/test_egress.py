"""The egress policy on real connections: the page fetcher, headless Chromium (through the checking proxy),
the GitHub crawler and a whole crawl run refuse loopback, private and metadata addresses before connecting.

Loopback targets are a `CountingServer` on 127.0.0.1: a refusal is proven by its connection count staying 0.
Metadata and private addresses are refused with FORBIDDEN_ADDRESS, which the policy raises before a socket
is opened (a connection attempt would end in CONNECTION_FAILED or TIMEOUT instead). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest

from llm_engineering.application.crawlers.base import CrawlerContext, CrawlLimits
from llm_engineering.application.crawlers.crawl_run import crawl_links
from llm_engineering.application.crawlers.github import GithubCrawler
from llm_engineering.bootstrap import build_crawler_context, build_crawler_dispatcher
from llm_engineering.domain.crawling import CrawlErrorKind, CrawlStatus
from llm_engineering.domain.documents import ArticleDocument, RepositoryDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.egress import default_policy
from llm_engineering.infrastructure.http_pages import HttpPageFetcher
from llm_engineering.settings import load_settings
from tests.fixtures.crawl_server import crawler_browser
from tests.fixtures.egress import CountingServer
from tests.waiting import CEILING_S

pytestmark = pytest.mark.integration

METADATA_FORMS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://2852039166/latest/meta-data/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://10.0.0.1/",
]


@pytest.fixture
def internal() -> Iterator[CountingServer]:
    server = CountingServer()
    yield server
    server.close()


def loopback_forms(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/admin",
        f"http://0x7f000001:{port}/admin",
        f"http://2130706433:{port}/admin",
        f"http://0177.0.0.1:{port}/admin",
        f"http://127.1:{port}/admin",
        f"http://[::ffff:127.0.0.1]:{port}/admin",
        f"http://localhost:{port}/admin",
    ]


@pytest.fixture
def public_only_fetcher() -> Iterator[HttpPageFetcher]:
    fetcher = HttpPageFetcher(timeout_s=5.0, max_bytes=200_000)  # the default policy: public internet only
    yield fetcher
    fetcher.close()


def test_fetcher_refuses_loopback_in_every_spelling_without_connecting(public_only_fetcher, internal):
    for url in loopback_forms(internal.port) + METADATA_FORMS:
        with pytest.raises(CrawlError) as caught:
            public_only_fetcher.fetch(url)
        # httpx itself rejects the octal spelling as malformed; every other form reaches the policy.
        assert caught.value.kind in (CrawlErrorKind.FORBIDDEN_ADDRESS, CrawlErrorKind.MALFORMED_URL), url
        assert caught.value.kind is CrawlErrorKind.FORBIDDEN_ADDRESS or "0177" in url
    assert internal.connections == 0


def test_fetcher_checks_every_redirect_hop(crawl_site):
    fetcher = HttpPageFetcher(timeout_s=5.0, max_bytes=200_000, egress=default_policy(allow_private=True))
    try:
        assert fetcher.fetch(crawl_site.url("/redirect")).final_url.endswith("/blog/post.html")  # same-site: followed
        for target in METADATA_FORMS[:3]:
            with pytest.raises(CrawlError) as caught:
                fetcher.fetch(crawl_site.url(f"/redirect-to?to={quote(target, safe='')}"))
            assert caught.value.kind is CrawlErrorKind.FORBIDDEN_ADDRESS
            assert "link-local" in caught.value.reason
    finally:
        fetcher.close()


def test_allowed_private_networks_reach_loopback(internal):
    fetcher = HttpPageFetcher(timeout_s=5.0, max_bytes=200_000, egress=default_policy(allow_private=True))
    try:
        page = fetcher.fetch(f"http://127.0.0.1:{internal.port}/admin")
    finally:
        fetcher.close()
    assert "secret-marker" in page.text and internal.connections == 1


def test_a_crawl_run_on_default_settings_records_every_probe_link_as_refused(documents, internal, git_repository):
    """The probe's links through the real crawl run, context and dispatcher as the ETL step builds them."""
    settings = load_settings(env_file=None, CRAWL_PAGE_TIMEOUT_S=5)
    assert settings.CRAWL_ALLOW_PRIVATE_NETWORKS is False
    context = build_crawler_context(settings, documents)
    user = documents.get_or_create(UserDocument, first_name="Eve", last_name="Prober")
    links = [
        *METADATA_FORMS,
        *loopback_forms(internal.port),
        f"http://[::1]:{internal.port}/",
        str(git_repository),
        git_repository.as_uri(),
    ]
    try:
        report = crawl_links(user, links, build_crawler_dispatcher(), context, max_workers=4, show_progress=False)
    finally:
        context.fetcher.close()
    assert [outcome.status for outcome in report.outcomes] == [CrawlStatus.FAILED] * len(links)
    kinds = {outcome.link: outcome.error_kind for outcome in report.outcomes}
    assert set(kinds.values()) == {CrawlErrorKind.FORBIDDEN_ADDRESS}, kinds
    assert all("refused" in (outcome.reason or "") for outcome in report.outcomes)
    assert internal.connections == 0
    assert documents.count(ArticleDocument) == 0 and documents.count(RepositoryDocument) == 0


def test_github_crawler_refuses_local_repositories_by_default(documents, git_repository):
    crawler = GithubCrawler(CrawlerContext(documents, limits=CrawlLimits(), egress=default_policy()))
    user = documents.get_or_create(UserDocument, first_name="Eve", last_name="Prober")
    for link in (str(git_repository), git_repository.as_uri()):
        with pytest.raises(CrawlError) as caught:
            crawler.extract(link, user)
        assert caught.value.kind is CrawlErrorKind.FORBIDDEN_ADDRESS
    assert documents.count(RepositoryDocument) == 0


@pytest.fixture(scope="module")
def public_only_browser():
    browser = crawler_browser(default_policy(), page_timeout_s=10.0)
    yield browser
    browser.close()


def test_browser_refuses_loopback_and_metadata_without_connecting(public_only_browser, internal):
    for url in [*loopback_forms(internal.port), *METADATA_FORMS]:
        with pytest.raises(CrawlError) as caught:
            public_only_browser.open(url)
        assert caught.value.kind is CrawlErrorKind.FORBIDDEN_ADDRESS, url
    assert internal.connections == 0


def test_browser_through_the_proxy_cannot_reach_loopback_even_by_script(public_only_browser, internal):
    """Chromium itself never connects: a page's script asking for loopback goes through the proxy and is refused."""
    proxy = public_only_browser.egress_proxy
    assert proxy is not None
    before = len(proxy.refusals)
    # about:blank is local to the browser (no request); the script's fetch must pass the proxy.
    public_only_browser._driver.get("about:blank")
    public_only_browser._driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"fetch('http://127.0.0.1:{internal.port}/admin', {{mode: 'no-cors'}}).then(() => done(1), () => done(0));"
    )
    assert internal.connections == 0
    assert any(refusal.host == "127.0.0.1" for refusal in list(proxy.refusals)[before:])


def test_browser_with_private_networks_allowed_still_refuses_metadata_redirects_and_subresources(crawl_site):
    browser = crawler_browser(default_policy(allow_private=True), page_timeout_s=10.0)
    try:
        with pytest.raises(CrawlError) as caught:
            browser.open(crawl_site.url(f"/redirect-to?to={quote(METADATA_FORMS[0], safe='')}"))
        assert caught.value.kind is CrawlErrorKind.FORBIDDEN_ADDRESS and "link-local" in caught.value.reason

        browser.open(crawl_site.url("/egress/subresources.html"))  # the page itself is fine
        assert "metadata service" in browser.page_source
        assert browser.wait_until(
            lambda _: {"169.254.169.254"} <= {refusal.host for refusal in browser.egress_proxy.refusals}, CEILING_S
        )
        # Every refusal is a policy refusal: the browser's own service hosts are refused by name, never looked up.
        assert {refusal.kind for refusal in browser.egress_proxy.refusals} == {CrawlErrorKind.FORBIDDEN_ADDRESS}
    finally:
        browser.close()
