"""The browser crawlers' own logic (LinkedIn login, Medium pages, browser reuse) over a fake `Browser` port."""

from __future__ import annotations

import pytest

from llm_engineering.application.crawlers.base import CrawlerContext, CrawlLimits, LinkedInCredentials
from llm_engineering.application.crawlers.crawl_run import crawl_links
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawlers.linkedin import (
    LOGIN_ERROR,
    PASSWORD_INPUT,
    SUBMIT_BUTTON,
    USERNAME_INPUT,
    LinkedInCrawler,
)
from llm_engineering.application.crawlers.medium import MediumCrawler
from llm_engineering.application.errors import AlreadyCrawledError
from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.domain.crawling import CrawlErrorKind, CrawlStatus
from llm_engineering.domain.documents import ArticleDocument, PostDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from tests.fixtures.fake_browser import FakeBrowser, FakeBrowserFactory

LIMITS = CrawlLimits(page_timeout_s=3.0, max_page_bytes=10_000, scroll_limit=4, scroll_pause_s=0.25)
LOGIN_URL = "https://www.linkedin.com/login"
FEED_URL = "https://www.linkedin.com/in/paul/recent-activity/all/"
LOGIN_PAGE = "<html><body><form><input id='username'><input id='password'><button type='submit'/></form></body></html>"
FEED_PAGE = """<html><body>
<div data-urn="urn:li:activity:1"><div class="update-components-text">First post 🚀</div></div>
<div data-urn="urn:li:activity:2"><div class="update-components-text">Second post</div>
  <div class="update-components-image"><img src="https://media.example/2.png"></div></div>
</body></html>"""
ARTICLE_URL = "https://medium.com/@paul/streaming"
ARTICLE_PAGE = "<html lang='en'><body><article><h1>Streaming</h1><p>The article body.</p></article></body></html>"


@pytest.fixture
def user() -> UserDocument:
    return UserDocument(first_name="Paul", last_name="Iusztin")


def linkedin_answers(outcome: str):
    """A click handler playing LinkedIn's login form: "feed", "wrong password", "checkpoint" or "nothing"."""

    def on_click(browser: FakeBrowser, selector: str) -> None:
        assert selector == SUBMIT_BUTTON
        if outcome == "feed":
            browser.url = "https://www.linkedin.com/feed/"
        elif outcome == "wrong password":
            browser.shown[LOGIN_ERROR] = ["", "Wrong email or password. Try again."]  # a hidden one first
        elif outcome == "checkpoint":
            browser.url = "https://www.linkedin.com/checkpoint/challenge/123"

    return on_click


def linkedin_browser(outcome: str = "feed") -> FakeBrowserFactory:
    return FakeBrowserFactory(
        lambda: FakeBrowser(pages={LOGIN_URL: LOGIN_PAGE, FEED_URL: FEED_PAGE}, on_click=linkedin_answers(outcome))
    )


def linkedin(
    documents: DocumentRepository, factory: FakeBrowserFactory | None, credentials: bool = True
) -> LinkedInCrawler:
    return LinkedInCrawler(
        CrawlerContext(
            documents,
            limits=LIMITS,
            browser_factory=factory,
            linkedin=LinkedInCredentials("twin@example.com", "secret") if credentials else None,
            linkedin_login_url=LOGIN_URL,
        )
    )


# --- LinkedIn -------------------------------------------------------------------------------------------
def test_linkedin_without_credentials_needs_credentials_and_starts_no_browser(user, memory_documents):
    factory = linkedin_browser()
    crawler = linkedin(memory_documents, factory, credentials=False)

    with pytest.raises(CrawlError) as caught:
        crawler.extract(FEED_URL, user)

    assert caught.value.kind is CrawlErrorKind.NEEDS_CREDENTIALS
    assert factory.started == [] and not crawler.browser_started


def test_linkedin_logs_in_through_the_port_then_stores_the_feed_posts(user, memory_documents):
    factory = linkedin_browser("feed")
    crawler = linkedin(memory_documents, factory)

    assert crawler.extract(FEED_URL, user) == 2

    [browser] = factory.started
    assert browser.fields == {USERNAME_INPUT: "twin@example.com", PASSWORD_INPUT: "secret"}
    assert browser.calls == [
        ("open", LOGIN_URL, None),
        ("fill", USERNAME_INPUT),
        ("fill", PASSWORD_INPUT),
        ("click", SUBMIT_BUTTON),
        ("wait", LIMITS.page_timeout_s),
        ("open", FEED_URL, LIMITS.max_page_bytes),
        ("scroll", LIMITS.scroll_limit, LIMITS.scroll_pause_s),
    ]
    posts = {post.content["text"]: post for post in memory_documents.bulk_find(PostDocument, author_id=str(user.id))}
    assert set(posts) == {"First post 🚀", "Second post"}
    assert posts["Second post"].image == "https://media.example/2.png"

    # Same ids on the next run: nothing new is stored, and the logged-in browser is reused.
    with pytest.raises(AlreadyCrawledError):
        crawler.extract(FEED_URL, user)
    assert len(factory.started) == 1 and browser.calls.count(("open", LOGIN_URL, None)) == 1


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        ("wrong password", "LinkedIn login failed: Wrong email or password. Try again."),
        ("checkpoint", "LinkedIn asks for a security check (captcha or 2FA); complete it once in a normal browser"),
        ("nothing", "LinkedIn login did not complete in time"),
    ],
)
def test_linkedin_login_failures_close_the_browser_and_the_next_link_starts_afresh(
    user, outcome, reason, memory_documents
):
    factory = linkedin_browser(outcome)
    crawler = linkedin(memory_documents, factory)

    for attempt in (1, 2):
        with pytest.raises(CrawlError) as caught:
            crawler.extract(FEED_URL, user)
        assert caught.value.kind is CrawlErrorKind.LOGIN_FAILED
        assert caught.value.reason == reason
        assert len(factory.started) == attempt and factory.started[-1].closed
        assert not crawler.browser_started

    assert ("open", FEED_URL, LIMITS.max_page_bytes) not in factory.started[0].calls
    assert memory_documents.count(PostDocument) == 0


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (CrawlError(CrawlErrorKind.TIMEOUT, "page did not load within 3s"), "LinkedIn login did not complete in time"),
        (
            CrawlError(CrawlErrorKind.CONNECTION_FAILED, "could not connect (ERR_CONNECTION_REFUSED)"),
            "LinkedIn login page not usable: could not connect (ERR_CONNECTION_REFUSED)",
        ),
    ],
)
def test_linkedin_login_page_errors_are_login_failures(user, failure, reason, memory_documents):
    factory = FakeBrowserFactory(lambda: FakeBrowser(failures={LOGIN_URL: failure}))
    crawler = linkedin(memory_documents, factory)

    with pytest.raises(CrawlError) as caught:
        crawler.extract(FEED_URL, user)

    assert caught.value.kind is CrawlErrorKind.LOGIN_FAILED and caught.value.reason == reason
    assert factory.started[0].closed


def test_linkedin_login_form_without_the_expected_fields_is_a_login_failure(user, memory_documents):
    class NoForm(FakeBrowser):
        def fill(self, css_selector: str, text: str) -> None:
            raise CrawlError(CrawlErrorKind.BROWSER_ERROR, f"could not fill {css_selector!r}: no such element")

    crawler = linkedin(memory_documents, FakeBrowserFactory(lambda: NoForm(pages={LOGIN_URL: LOGIN_PAGE})))

    with pytest.raises(CrawlError) as caught:
        crawler.extract(FEED_URL, user)

    assert caught.value.kind is CrawlErrorKind.LOGIN_FAILED
    assert caught.value.reason == "LinkedIn login page not usable: could not fill '#username': no such element"


def test_linkedin_feed_without_posts_is_an_empty_page(user, memory_documents):
    factory = FakeBrowserFactory(
        lambda: FakeBrowser(pages={LOGIN_URL: LOGIN_PAGE, FEED_URL: "<html></html>"}, on_click=linkedin_answers("feed"))
    )

    with pytest.raises(CrawlError) as caught:
        linkedin(memory_documents, factory).extract(FEED_URL, user)

    assert caught.value.kind is CrawlErrorKind.EMPTY_PAGE


# --- Medium and the browser lifecycle --------------------------------------------------------------------
def medium_browser(**options) -> FakeBrowserFactory:
    return FakeBrowserFactory(lambda: FakeBrowser(pages={ARTICLE_URL: ARTICLE_PAGE}, **options))


def test_medium_opens_with_the_byte_limit_scrolls_and_stores_the_article(user, memory_documents):
    factory = medium_browser()
    crawler = MediumCrawler(CrawlerContext(memory_documents, limits=LIMITS, browser_factory=factory))

    assert crawler.extract(ARTICLE_URL, user) == 1

    assert factory.started[0].calls == [
        ("open", ARTICLE_URL, LIMITS.max_page_bytes),
        ("scroll", LIMITS.scroll_limit, LIMITS.scroll_pause_s),
    ]
    stored = memory_documents.find(ArticleDocument, link=ARTICLE_URL)
    assert stored.content["Title"] == "Streaming" and stored.content["Content"] == "The article body."
    crawler.close()
    assert factory.started[0].closed and not crawler.browser_started


@pytest.mark.parametrize(
    "kind",
    [CrawlErrorKind.TIMEOUT, CrawlErrorKind.NOT_HTML, CrawlErrorKind.HTTP_ERROR, CrawlErrorKind.DNS_FAILURE],
)
def test_medium_page_errors_keep_their_kind_and_the_browser_is_reused(user, kind, memory_documents):
    bad = "https://medium.com/@paul/bad"
    factory = medium_browser(failures={bad: CrawlError(kind, "reason")})
    crawler = MediumCrawler(CrawlerContext(memory_documents, limits=LIMITS, browser_factory=factory))

    with pytest.raises(CrawlError) as caught:
        crawler.extract(bad, user)

    assert caught.value.kind is kind and not crawler.broken
    assert crawler.extract(ARTICLE_URL, user) == 1
    assert len(factory.started) == 1


def test_medium_page_over_the_byte_limit_is_too_large(user, memory_documents):
    factory = medium_browser()
    limits = CrawlLimits(max_page_bytes=20)
    crawler = MediumCrawler(CrawlerContext(memory_documents, limits=limits, browser_factory=factory))

    with pytest.raises(CrawlError) as caught:
        crawler.extract(ARTICLE_URL, user)

    assert caught.value.kind is CrawlErrorKind.TOO_LARGE


def test_medium_page_without_an_article_body_is_empty(user, memory_documents):
    factory = FakeBrowserFactory(lambda: FakeBrowser(pages={ARTICLE_URL: "<html><body><article> </article></body>"}))

    with pytest.raises(CrawlError) as caught:
        MediumCrawler(CrawlerContext(memory_documents, limits=LIMITS, browser_factory=factory)).extract(
            ARTICLE_URL, user
        )

    assert caught.value.kind is CrawlErrorKind.EMPTY_PAGE


def test_a_browser_crawler_without_a_browser_factory_is_a_browser_error(user, memory_documents):
    with pytest.raises(CrawlError) as caught:
        MediumCrawler(CrawlerContext(memory_documents, limits=LIMITS)).extract(ARTICLE_URL, user)

    assert caught.value.kind is CrawlErrorKind.BROWSER_ERROR
    assert "needs a browser and none is configured" in caught.value.reason


def test_a_crawler_whose_browser_broke_reports_itself_broken(user, memory_documents):
    dead = "https://medium.com/@paul/kills-the-browser"
    crawler = MediumCrawler(
        CrawlerContext(memory_documents, limits=LIMITS, browser_factory=medium_browser(breaks_on={dead}))
    )
    assert not crawler.broken

    with pytest.raises(CrawlError) as caught:
        crawler.extract(dead, user)

    assert caught.value.kind is CrawlErrorKind.BROWSER_ERROR
    assert crawler.broken


def test_the_crawl_pool_does_not_reuse_a_broken_browser(user, memory_documents):
    dead = "https://medium.com/@paul/kills-the-browser"
    factory = medium_browser(breaks_on={dead})
    dispatcher = CrawlerDispatcher.build().register_pattern(r"^https://medium\.com", MediumCrawler)

    report = crawl_links(
        user,
        [dead, ARTICLE_URL],
        dispatcher,
        CrawlerContext(memory_documents, limits=LIMITS, browser_factory=factory),
        max_workers=1,
        show_progress=False,
    )

    assert [outcome.status for outcome in report.outcomes] == [CrawlStatus.FAILED, CrawlStatus.SUCCEEDED]
    assert len(factory.started) == 2  # the second link got a fresh browser
    first, second = factory.started
    assert first.broken and first.closed
    assert second.calls[0] == ("open", ARTICLE_URL, LIMITS.max_page_bytes)
    assert second.closed  # closed at the end of the run
