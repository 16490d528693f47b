"""What crawlers need from the outside world. Infrastructure implements these (httpx, Selenium + Chromium)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


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
    """A started headless browser; `driver` is a Selenium WebDriver. `close()` quits it and frees its files."""

    @property
    def driver(self) -> Any: ...

    def close(self) -> None: ...


BrowserFactory = Callable[[], Browser]
"""Starts a fresh browser; raises `CrawlError(BROWSER_ERROR, ...)` or `ImproperlyConfigured` when it cannot."""
