"""What crawlers need from the outside world. Infrastructure implements these (httpx, Selenium + Chromium).

The ports speak plain types only (str, int, bool) and raise `CrawlError` with a specific kind, so no
library type or exception (Selenium, httpx) reaches the application layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class FetchedPage:
    """An HTML page as the server sent it, decoded to text."""

    url: str
    final_url: str
    status: int
    content_type: str
    text: str


class PageFetcher(Protocol):
    """Fetches one HTML page over HTTP; raises `CrawlError` with a specific kind when it cannot."""

    def fetch(self, url: str) -> FetchedPage: ...

    def close(self) -> None: ...


class Browser(Protocol):
    """A started headless browser with one tab, driven one call at a time.

    Every method raises `CrawlError` when the browser cannot do what is asked: `BROWSER_ERROR` for a
    missing element or a failed browser call, or the specific kind `open` documents. When the browser
    itself is gone (its session died, or a page could not be stopped) `is_broken` turns true: it must not
    be reused, only closed.
    """

    @property
    def is_broken(self) -> bool:
        """True once the browser is unusable; the owner should close it and start a fresh one."""
        ...

    @property
    def current_url(self) -> str:
        """The address of the page shown now (after redirects)."""
        ...

    @property
    def page_source(self) -> str:
        """The HTML of the page shown now, as rendered (after JavaScript ran)."""
        ...

    def open(self, url: str, *, max_bytes: int | None = None) -> None:
        """Load `url` and check it is a successful HTML page of at most `max_bytes` bytes (no limit when None).

        Raises `CrawlError` with kind TIMEOUT (page did not load in time), DNS_FAILURE, CONNECTION_FAILED,
        HTTP_ERROR (status >= 400), NOT_HTML (a download or another content type), TOO_LARGE, or BROWSER_ERROR.
        """
        ...

    def scroll_to_bottom(self, limit: int, pause_s: float) -> int:
        """Scroll to the bottom, waiting `pause_s` after each scroll for lazy content, until the page stops
        growing or `limit` scrolls are done; return the number of scrolls."""
        ...

    def fill(self, css_selector: str, text: str) -> None:
        """Type `text` into the first element matching `css_selector` (emptied first)."""
        ...

    def click(self, css_selector: str) -> None:
        """Click the first element matching `css_selector`; returns once a navigation it starts has loaded."""
        ...

    def texts(self, css_selector: str) -> list[str]:
        """The visible text of each element matching `css_selector`, in page order ("" for a hidden one)."""
        ...

    def wait_until(self, condition: Callable[[Browser], bool], timeout_s: float) -> bool:
        """Poll `condition(self)` until it is true (return True) or `timeout_s` passes (return False).

        Transient browser errors while the page changes are retried; the last one is raised at the timeout.
        """
        ...

    def close(self) -> None:
        """Quit the browser and free its files; safe to call on a broken browser."""
        ...


BrowserFactory = Callable[[], Browser]
"""Starts a fresh browser; raises `CrawlError(BROWSER_ERROR, ...)` or `ImproperlyConfigured` when it cannot."""
