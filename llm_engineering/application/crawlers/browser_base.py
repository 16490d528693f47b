"""Base of the browser-driven crawlers: one lazily started headless browser per crawler instance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llm_engineering.application.crawlers.base import BaseCrawler, CrawlerContext
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.exceptions import CrawlError

if TYPE_CHECKING:
    from llm_engineering.application.crawlers.ports import Browser


class BaseBrowserCrawler(BaseCrawler):
    """Drives a real headless browser (the `Browser` port), for pages that need JavaScript or a login.

    The browser starts on the first link this instance handles and is reused for the next ones;
    `close()` quits it. Subclasses call `open(link)`, `scroll_page()`, then parse `page_source()`.
    The instance reports itself `broken` once its browser is, so the crawl pool does not reuse it.
    """

    uses_browser = True

    def __init__(self, context: CrawlerContext):
        self._browser: Browser | None = None
        self._broken = False
        super().__init__(context)

    # --- Browser lifecycle --------------------------------------------------------------------
    @property
    def browser(self) -> Browser:
        """The crawler's browser, started (and set up by `on_browser_started`) on first use.

        Raises `CrawlError(BROWSER_ERROR)` when no browser factory is configured, or what the factory
        or the setup hook raise; a browser whose setup failed is closed, so the next link starts afresh.
        """
        if self._browser is None:
            factory = self.context.browser_factory
            if factory is None:
                raise CrawlError(CrawlErrorKind.BROWSER_ERROR, f"{self.name} needs a browser and none is configured")
            self._browser = factory()
            try:
                self.on_browser_started(self._browser)
            except BaseException:
                self.close()
                raise
        return self._browser

    def on_browser_started(self, browser: Browser) -> None:
        """Hook run once per browser, before its first page (e.g. to log in)."""

    @property
    def browser_started(self) -> bool:
        return self._browser is not None

    @property
    def broken(self) -> bool:
        """True when this instance must not serve another link: marked so, or its browser is broken."""
        return self._broken or (self._browser is not None and self._browser.is_broken)

    @broken.setter
    def broken(self, value: bool) -> None:
        self._broken = value

    def close(self) -> None:
        if self._browser is not None:
            browser, self._browser = self._browser, None
            browser.close()

    # --- Pages --------------------------------------------------------------------------------
    def open(self, link: str) -> None:
        """Load `link` as a successful HTML page within `max_page_bytes`; raise `CrawlError` otherwise."""
        self.browser.open(link, max_bytes=self.context.limits.max_page_bytes)

    def scroll_page(self) -> int:
        """Scroll to the bottom until the height stops growing or `scroll_limit` is hit; return the scrolls done."""
        limits = self.context.limits
        return self.browser.scroll_to_bottom(limits.scroll_limit, limits.scroll_pause_s)

    def page_source(self) -> str:
        """The rendered HTML of the page last opened."""
        return self.browser.page_source
