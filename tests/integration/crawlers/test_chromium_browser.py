"""`ChromiumBrowser`, the Selenium adapter of the `Browser` port, against the local fixture site."""

from __future__ import annotations

import time

import pytest

from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.exceptions import CrawlError
from tests.fixtures.crawl_server import BIG_PAGE_BYTES
from tests.waiting import CEILING_S

pytestmark = pytest.mark.integration


def test_open_follows_redirects_and_reports_the_final_address(shared_browser, crawl_site):
    shared_browser.open(crawl_site.url("/redirect"))

    assert shared_browser.current_url == crawl_site.url("/blog/post.html")
    assert "<html" in shared_browser.page_source


def test_open_applies_the_byte_limit_only_when_given(shared_browser, crawl_site):
    shared_browser.open(crawl_site.url("/big"))  # no limit: fine

    with pytest.raises(CrawlError) as caught:
        shared_browser.open(crawl_site.url("/big"), max_bytes=BIG_PAGE_BYTES // 2)
    assert caught.value.kind is CrawlErrorKind.TOO_LARGE


def test_texts_gives_visible_text_only_and_fill_click_drive_a_form(shared_browser, crawl_site):
    shared_browser.open(crawl_site.url("/linkedin/login.html"))
    assert shared_browser.texts("#error-for-password") == [""]  # present but hidden
    assert shared_browser.texts(".no-such-thing") == []

    shared_browser.fill("#username", "someone@example.com")
    shared_browser.fill("#password", "nope")
    shared_browser.click("button[type=submit]")

    assert shared_browser.wait_until(lambda browser: any(browser.texts("#error-for-password")), timeout_s=CEILING_S)
    assert shared_browser.texts("#error-for-password") == ["Wrong email or password. Try again."]


def test_a_missing_element_is_a_browser_error_that_leaves_the_browser_usable(shared_browser, crawl_site):
    shared_browser.open(crawl_site.url("/blog/post.html"))

    with pytest.raises(CrawlError) as caught:
        shared_browser.click("#no-such-button")

    assert caught.value.kind is CrawlErrorKind.BROWSER_ERROR and "no such element" in caught.value.reason
    assert not shared_browser.is_broken


def test_wait_until_gives_up_after_the_timeout(shared_browser, crawl_site):
    shared_browser.open(crawl_site.url("/blog/post.html"))
    started = time.monotonic()

    assert shared_browser.wait_until(lambda browser: "/never" in browser.current_url, timeout_s=0.3) is False
    assert 0.3 <= time.monotonic() - started < 2.0


def test_scroll_to_bottom_stops_when_the_page_stops_growing(shared_browser, crawl_site):
    shared_browser.open(crawl_site.url("/blog/post.html"))

    assert 1 <= shared_browser.scroll_to_bottom(limit=5, pause_s=0.01) <= 5


def test_a_closed_browser_is_broken_and_fails_with_a_browser_error(crawl_site):
    from llm_engineering.infrastructure.browser import start_chromium
    from llm_engineering.settings import load_settings

    settings = load_settings()
    try:
        browser = start_chromium(settings.CHROMIUM_PATH, settings.CHROMEDRIVER_PATH, page_timeout_s=2.0)
    except CrawlError as error:
        pytest.skip(f"headless Chromium unavailable: {error}")
    browser.close()  # the session is gone, as after a crash

    with pytest.raises(CrawlError) as caught:
        browser.open(crawl_site.url("/blog/post.html"))

    assert caught.value.kind is CrawlErrorKind.BROWSER_ERROR
    assert browser.is_broken
    browser.close()  # closing again is harmless
