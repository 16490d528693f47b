"""Base of the browser-driven crawlers: one lazily started headless browser per crawler instance."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_engineering.application.crawlers.base import BaseCrawler, CrawlerContext
from llm_engineering.domain.crawling import CrawlError, CrawlErrorKind

if TYPE_CHECKING:
    from llm_engineering.application.crawlers.ports import Browser

# Chrome shows its own error page (no exception) for most network failures; its code tells them apart.
_CHROME_ERROR = re.compile(r"\b(?:net::)?(ERR_[A-Z_]+)\b")
_DNS_CODES = {"ERR_NAME_NOT_RESOLVED", "ERR_NAME_RESOLUTION_FAILED"}
_TIMEOUT_CODES = {"ERR_TIMED_OUT", "ERR_CONNECTION_TIMED_OUT"}
_STALE_MARKER = "window.__llmTwinStale = true;"
_NAVIGATION_PROBE = (
    "const entry = performance.getEntriesByType('navigation')[0];"
    "return [entry ? entry.responseStatus : null, document.contentType, location.href, window.__llmTwinStale === true];"
)


def classify_network_error(code: str, link: str) -> CrawlError:
    """A Chrome `ERR_*` code to the crawl error it means."""
    if code in _DNS_CODES:
        return CrawlError(CrawlErrorKind.DNS_FAILURE, f"DNS lookup failed for {link} ({code})")
    if code in _TIMEOUT_CODES:
        return CrawlError(CrawlErrorKind.TIMEOUT, f"timed out connecting to {link} ({code})")
    return CrawlError(CrawlErrorKind.CONNECTION_FAILED, f"could not connect to {link} ({code})")


class BaseSeleniumCrawler(BaseCrawler):
    """Drives a real headless browser, for pages that need JavaScript (Medium) or a login (LinkedIn).

    The browser starts on the first link this instance handles and is reused for the next ones;
    `close()` quits it. Subclasses call `open(link)` then read `self.driver.page_source`.
    """

    uses_browser = True

    def __init__(self, context: CrawlerContext):
        super().__init__(context)
        self._browser: Browser | None = None

    # --- Browser lifecycle --------------------------------------------------------------------
    @property
    def driver(self) -> Any:
        if self._browser is None:
            if self.context.browser_factory is None:
                raise CrawlError(CrawlErrorKind.BROWSER_ERROR, f"{self.name} needs a browser and none is configured")
            self._browser = self.context.browser_factory()
            try:
                self.on_browser_started()
            except BaseException:
                # A browser whose setup failed (e.g. login) is not reused: the next link starts afresh.
                self.close()
                raise
        return self._browser.driver

    def on_browser_started(self) -> None:
        """Hook run once per browser, before its first page (e.g. to log in)."""

    @property
    def browser_started(self) -> bool:
        return self._browser is not None

    def close(self) -> None:
        if self._browser is not None:
            browser, self._browser = self._browser, None
            browser.close()

    # --- Navigation ---------------------------------------------------------------------------
    def open(self, link: str) -> None:
        """Load `link` and check it is a successful, reasonably sized HTML page; raise `CrawlError` otherwise."""
        from selenium.common.exceptions import TimeoutException, WebDriverException

        driver = self.driver
        try:
            # Mark the current page: if the marker survives `get`, no new page loaded (a download), and the
            # previous page must not be read as this link. (Cheaper than loading about:blank in between.)
            driver.execute_script(_STALE_MARKER)
            driver.get(link)
        except TimeoutException as error:
            self._stop_loading()
            raise CrawlError(
                CrawlErrorKind.TIMEOUT, f"page did not load within {self.context.limits.page_timeout_s:g}s"
            ) from error
        except WebDriverException as error:
            message = str(error.msg or error)
            match = _CHROME_ERROR.search(message)
            if match:
                raise classify_network_error(match.group(1), link) from error
            self._mark_broken_if_dead(message)
            raise CrawlError(CrawlErrorKind.BROWSER_ERROR, f"browser failed on {link}: {message.strip()}") from error
        self._check_loaded_page(link)

    def _check_loaded_page(self, link: str) -> None:
        status, content_type, location, stale = self.driver.execute_script(_NAVIGATION_PROBE)
        if str(location).startswith("chrome-error://"):
            match = _CHROME_ERROR.search(self.driver.page_source)
            raise classify_network_error(match.group(1) if match else "ERR_FAILED", link)
        if stale or location == "about:blank":
            raise CrawlError(CrawlErrorKind.NOT_HTML, "the link is a file download, not an HTML page")
        if status and int(status) >= 400:
            raise CrawlError(CrawlErrorKind.HTTP_ERROR, f"HTTP {int(status)} from {link}")
        if content_type and "html" not in str(content_type):
            raise CrawlError(CrawlErrorKind.NOT_HTML, f"content type {content_type} is not HTML")
        size = len(self.driver.page_source.encode("utf-8"))
        if size > self.context.limits.max_page_bytes:
            raise CrawlError(
                CrawlErrorKind.TOO_LARGE,
                f"page is {size} bytes, over the {self.context.limits.max_page_bytes}-byte limit",
            )

    def scroll_page(self) -> int:
        """Scroll to the bottom until the height stops growing or `scroll_limit` is hit; return the scrolls done."""
        limits = self.context.limits
        height = self.driver.execute_script("return document.body ? document.body.scrollHeight : 0")
        scrolls = 0
        while scrolls < limits.scroll_limit:
            self.driver.execute_script("window.scrollTo(0, document.body.scrollHeight);")
            scrolls += 1
            time.sleep(limits.scroll_pause_s)  # let lazy content load
            new_height = self.driver.execute_script("return document.body.scrollHeight")
            if new_height == height:
                break
            height = new_height
        return scrolls

    def _stop_loading(self) -> None:
        try:
            self.driver.execute_script("window.stop();")
        except Exception as error:  # noqa: BLE001 - the browser may be wedged: start a fresh one for the next link
            logger.warning("Could not stop a timed-out page load ({}); the browser will be restarted.", error)
            self.broken = True

    def _mark_broken_if_dead(self, message: str) -> None:
        lowered = message.lower()
        if any(marker in lowered for marker in ("invalid session", "no such window", "session deleted", "crashed")):
            self.broken = True
