"""Builders of the crawlers' context, limits, egress policy and dispatcher."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

from llm_engineering.settings import Settings

if TYPE_CHECKING:
    from llm_engineering.application.crawlers.base import CrawlerContext, CrawlLimits
    from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
    from llm_engineering.application.crawlers.egress import EgressPolicy
    from llm_engineering.domain.base.nosql import DocumentRepository


def crawl_limits(settings: Settings) -> CrawlLimits:
    from llm_engineering.application.crawlers.base import CrawlLimits

    return CrawlLimits(
        page_timeout_s=settings.CRAWL_PAGE_TIMEOUT_S,
        max_page_bytes=settings.CRAWL_MAX_PAGE_BYTES,
        max_file_bytes=settings.GITHUB_MAX_FILE_BYTES,
        max_repository_bytes=settings.GITHUB_MAX_REPOSITORY_BYTES,
        clone_timeout_s=settings.GITHUB_CLONE_TIMEOUT_S,
        scroll_limit=settings.CRAWL_SCROLL_LIMIT,
        scroll_pause_s=settings.CRAWL_SCROLL_PAUSE_S,
    )


def build_egress_policy(settings: Settings) -> EgressPolicy:
    """Where crawlers may connect: the public internet, plus private networks with CRAWL_ALLOW_PRIVATE_NETWORKS."""
    from llm_engineering.infrastructure.egress import default_policy

    return default_policy(allow_private=settings.CRAWL_ALLOW_PRIVATE_NETWORKS)


def build_crawler_context(settings: Settings, documents: DocumentRepository) -> CrawlerContext:
    """The crawlers' context for one run (the warehouse's `documents`, HTTP fetcher, browser factory, limits,
    credentials).

    The caller closes its fetcher when the run ends (`context.fetcher.close()`).
    """
    from llm_engineering.application.crawlers.base import CrawlerContext, LinkedInCredentials
    from llm_engineering.infrastructure.browser import start_chromium
    from llm_engineering.infrastructure.http_pages import HttpPageFetcher

    egress = build_egress_policy(settings)
    credentials = None
    if settings.LINKEDIN_USERNAME and settings.LINKEDIN_PASSWORD:
        credentials = LinkedInCredentials(settings.LINKEDIN_USERNAME, settings.LINKEDIN_PASSWORD.get_secret_value())
    return CrawlerContext(
        documents=documents,
        limits=crawl_limits(settings),
        egress=egress,
        fetcher=HttpPageFetcher(
            timeout_s=settings.CRAWL_PAGE_TIMEOUT_S,
            max_bytes=settings.CRAWL_MAX_PAGE_BYTES,
            max_connections=max(settings.CRAWL_MAX_WORKERS, 1) * 2,
            egress=egress,
        ),
        browser_factory=functools.partial(
            start_chromium,
            settings.CHROMIUM_PATH,
            settings.CHROMEDRIVER_PATH,
            settings.CRAWL_PAGE_TIMEOUT_S,
            egress=egress,
        ),
        linkedin=credentials,
        linkedin_login_url=settings.LINKEDIN_LOGIN_URL,
    )


def build_crawler_dispatcher(routes: Mapping[str, str] | None = None) -> CrawlerDispatcher:
    """Every crawler, with a config's extra `routes` (domain or ^regex -> crawler name) tried first."""
    from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher

    return (
        CrawlerDispatcher.build()
        .register_routes(dict(routes) if routes else None)
        .register_medium()
        .register_linkedin()
        .register_github()
        .register_local_git()
    )
