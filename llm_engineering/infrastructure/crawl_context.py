"""Builds the crawlers' context (HTTP fetcher, browser factory, limits, credentials) from settings."""

from __future__ import annotations

import functools

from llm_engineering.application.crawlers.base import CrawlerContext, CrawlLimits, LinkedInCredentials
from llm_engineering.settings import Settings


def crawl_limits(settings: Settings) -> CrawlLimits:
    return CrawlLimits(
        page_timeout_s=settings.CRAWL_PAGE_TIMEOUT_S,
        max_page_bytes=settings.CRAWL_MAX_PAGE_BYTES,
        max_file_bytes=settings.GITHUB_MAX_FILE_BYTES,
        max_repository_bytes=settings.GITHUB_MAX_REPOSITORY_BYTES,
        clone_timeout_s=settings.GITHUB_CLONE_TIMEOUT_S,
        scroll_limit=settings.CRAWL_SCROLL_LIMIT,
        scroll_pause_s=settings.CRAWL_SCROLL_PAUSE_S,
    )


def build_crawler_context(settings: Settings) -> CrawlerContext:
    """The context for one run. Close its fetcher when the run ends (`context.fetcher.close()`)."""
    from llm_engineering.infrastructure.browser import start_chromium
    from llm_engineering.infrastructure.http_pages import HttpPageFetcher

    credentials = None
    if settings.LINKEDIN_USERNAME and settings.LINKEDIN_PASSWORD:
        credentials = LinkedInCredentials(settings.LINKEDIN_USERNAME, settings.LINKEDIN_PASSWORD.get_secret_value())
    return CrawlerContext(
        limits=crawl_limits(settings),
        fetcher=HttpPageFetcher(
            timeout_s=settings.CRAWL_PAGE_TIMEOUT_S,
            max_bytes=settings.CRAWL_MAX_PAGE_BYTES,
            max_connections=max(settings.CRAWL_MAX_WORKERS, 1) * 2,
        ),
        browser_factory=functools.partial(
            start_chromium, settings.CHROMIUM_PATH, settings.CHROMEDRIVER_PATH, settings.CRAWL_PAGE_TIMEOUT_S
        ),
        linkedin=credentials,
        linkedin_login_url=settings.LINKEDIN_LOGIN_URL,
    )
