"""Medium and LinkedIn crawlers driving one real headless Chromium against the local fixture site."""

from __future__ import annotations

import pytest

from llm_engineering.application.crawlers.base import CrawlerContext, CrawlLimits, LinkedInCredentials
from llm_engineering.application.crawlers.linkedin import LinkedInCrawler
from llm_engineering.application.crawlers.medium import MediumCrawler
from llm_engineering.application.errors import LowContentError
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.documents import ArticleDocument, PostDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from tests.conftest import free_port
from tests.fixtures.crawl_server import PAGE_TIMEOUT_S

pytestmark = pytest.mark.integration

LIMITS = CrawlLimits(page_timeout_s=PAGE_TIMEOUT_S, max_page_bytes=200_000, scroll_limit=3, scroll_pause_s=0.05)


@pytest.fixture
def user(documents) -> UserDocument:
    return documents.get_or_create(UserDocument, first_name="Paul", last_name="Iusztin")


@pytest.fixture
def medium(borrowed_browser_factory, documents):
    crawler = MediumCrawler(CrawlerContext(documents, limits=LIMITS, browser_factory=borrowed_browser_factory))
    yield crawler
    crawler.close()


def test_medium_article_stores_title_subtitle_and_body_only(medium, crawl_site, user, documents):
    link = crawl_site.url("/medium/article.html")

    assert medium.extract(link, user) == 1

    stored = documents.find(ArticleDocument, link=link)
    assert stored.platform == "medium"
    content = stored.content
    assert content["Title"] == "Streaming pipelines for LLM twins 🚀"
    assert content["Subtitle"] == "How to keep a feature store fresh — in real time"
    body = content["Content"]
    assert "Ünïcödé and emoji stay intact: ✅ 🧠." in body
    assert "        return  upsert(event.document)" in body  # rendered by JavaScript, indentation kept
    assert "The last paragraph of the article body." in body
    # Only the article: no navigation, footer or the title repeated (the book stored the whole page text).
    assert "Sign in" not in body and "Careers" not in body and "Streaming pipelines for LLM twins" not in body


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/missing.html", CrawlErrorKind.HTTP_ERROR),
        ("/download.zip", CrawlErrorKind.NOT_HTML),
        ("/data.json", CrawlErrorKind.NOT_HTML),
        ("/big", CrawlErrorKind.TOO_LARGE),
        ("/slow", CrawlErrorKind.TIMEOUT),
        ("/medium/paywalled.html", CrawlErrorKind.EMPTY_PAGE),
    ],
)
def test_medium_bad_pages_fail_with_their_reason(medium, crawl_site, user, path, kind, documents):
    with pytest.raises(CrawlError) as caught:
        medium.extract(crawl_site.url(path), user)

    assert caught.value.kind is kind
    assert documents.count(ArticleDocument) == 0


def test_medium_page_with_a_wrong_charset_header_is_never_stored_as_mojibake(medium, crawl_site, user, documents):
    # Chromium decodes by the header (UTF-16): the crawler must refuse the CJK text it renders, or read it right.
    link = crawl_site.url("/encoding/latin1-declared-utf16.html")

    try:
        medium.extract(link, user)
    except CrawlError as error:
        assert error.kind is CrawlErrorKind.BAD_ENCODING, error.reason
        assert documents.find(ArticleDocument, link=link) is None
    else:
        assert "Cet été, j'ai affiné un modèle" in documents.find(ArticleDocument, link=link).content["Content"]


def test_medium_link_farm_is_skipped_and_not_stored(medium, crawl_site, user, documents):
    link = crawl_site.url("/lowcontent/link-farm.html")

    with pytest.raises(LowContentError) as caught:
        medium.extract(link, user)

    assert caught.value.reason.startswith("mostly links: ")
    assert documents.find(ArticleDocument, link=link) is None


def test_browser_sends_the_regular_chrome_user_agent(shared_browser, crawl_site):
    shared_browser.open(crawl_site.url("/agent"))

    [agent] = shared_browser.texts("#agent")
    assert "Chrome/" in agent and "HeadlessChrome" not in agent


def test_medium_refused_connection_then_browser_still_usable(medium, crawl_site, user):
    with pytest.raises(CrawlError) as caught:
        medium.extract(f"http://127.0.0.1:{free_port()}/article", user)
    assert caught.value.kind is CrawlErrorKind.CONNECTION_FAILED
    # The egress proxy made (and failed) the connection; its cause replaces Chromium's generic proxy error.
    assert "connection refused" in caught.value.reason.lower()

    # The same browser serves the next link.
    assert medium.extract(crawl_site.url("/medium/article.html"), user) == 1


def test_linkedin_without_credentials_fails_without_starting_a_browser(user, crawl_site, documents):
    def no_browser():
        raise AssertionError("a browser was started although credentials are missing")

    crawler = LinkedInCrawler(CrawlerContext(documents, limits=LIMITS, browser_factory=no_browser))

    with pytest.raises(CrawlError) as caught:
        crawler.extract(crawl_site.url("/linkedin/feed.html"), user)

    assert caught.value.kind is CrawlErrorKind.NEEDS_CREDENTIALS
    assert "needs credentials" in caught.value.reason
    assert not crawler.browser_started


def _linkedin(documents, crawl_site, factory, password: str) -> LinkedInCrawler:
    return LinkedInCrawler(
        CrawlerContext(
            documents,
            limits=LIMITS,
            browser_factory=factory,
            linkedin=LinkedInCredentials("twin@example.com", password),
            linkedin_login_url=crawl_site.url("/linkedin/login.html"),
        )
    )


def _log_out(browser, crawl_site) -> None:
    """Drop the fixture's session cookie, so the shared browser starts the test logged out."""
    browser.open(crawl_site.url("/linkedin/logout.html"))


def test_linkedin_wrong_password_is_a_login_failure(
    user, crawl_site, shared_browser, borrowed_browser_factory, documents
):
    _log_out(shared_browser, crawl_site)
    crawler = _linkedin(documents, crawl_site, borrowed_browser_factory, "wrong")

    with pytest.raises(CrawlError) as caught:
        crawler.extract(crawl_site.url("/linkedin/feed.html"), user)

    assert caught.value.kind is CrawlErrorKind.LOGIN_FAILED
    assert "Wrong email or password" in caught.value.reason
    assert not crawler.browser_started  # a failed login does not leave a half-set-up browser behind


def test_linkedin_logs_in_scrolls_and_stores_posts_once(
    user, crawl_site, shared_browser, borrowed_browser_factory, documents
):
    _log_out(shared_browser, crawl_site)
    crawler = _linkedin(documents, crawl_site, borrowed_browser_factory, "correct horse")
    feed = crawl_site.url("/linkedin/feed.html")

    assert crawler.extract(feed, user) == 3

    posts = {post.content["text"]: post for post in documents.bulk_find(PostDocument, author_id=str(user.id))}
    assert set(posts) == {
        "Shipping an LLM twin is 20% model, 80% data pipelines. 🛠️\nHere is the architecture we used.",
        "RAG evaluation: measure retrieval and generation separately.",
        "Loaded on scroll: chunk size matters.",
    }
    first = posts["Shipping an LLM twin is 20% model, 80% data pipelines. 🛠️\nHere is the architecture we used."]
    assert first.image == "/linkedin/diagram.png" and first.platform == "linkedin"
    assert first.link == crawl_site.url("/feed/update/urn:li:activity:1001/")

    # Posts have stable ids: crawling the feed again stores nothing new.
    from llm_engineering.application.errors import AlreadyCrawledError

    with pytest.raises(AlreadyCrawledError):
        crawler.extract(feed, user)
    assert documents.count(PostDocument) == 3
