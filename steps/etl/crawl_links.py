"""Step: crawl an author's links into the warehouse and log per-domain outcomes as metadata."""

from __future__ import annotations

from typing import Annotated

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.domain.documents import UserDocument


@step
def crawl_links(
    user: UserDocument, links: list[str], crawler_routes: dict[str, str] | None = None
) -> Annotated[list[str], "crawled_links"]:
    """Crawl `links` for `user`; return the links now in the warehouse (crawled now or already stored; not the
    failed ones, nor the pages skipped as mostly links or boilerplate).

    `crawler_routes` maps extra domains (`host[:port][/path]`) or regexes (starting with `^`) to a crawler
    name (`medium`, `github`, `linkedin`, `custom_article`), before the default routes.
    Metadata on `crawled_links`: per domain (`:` written as `_`) `tried`, `succeeded`, `skipped_already_crawled`,
    `skipped_low_content`, `failed`, `documents`, `failures` (link, kind, reason) and `low_content` (link, reason),
    plus a run-wide `summary`.
    """
    from llm_engineering import bootstrap
    from llm_engineering.application.crawlers.crawl_run import crawl_links as crawl
    from llm_engineering.domain.crawling import CrawlStatus

    container = bootstrap.container()
    settings = container.settings
    dispatcher = container.crawler_dispatcher(crawler_routes)
    context = container.crawler_context()  # crawlers save into container.documents()
    try:
        report = crawl(
            user,
            links,
            dispatcher,
            context,
            max_workers=settings.CRAWL_MAX_WORKERS,
            per_domain_limit=settings.CRAWL_PER_DOMAIN_LIMIT,
            max_browsers=settings.CRAWL_MAX_BROWSERS,
        )
    finally:
        if context.fetcher is not None:
            context.fetcher.close()
    logger.info(
        "{} / {} links are in the warehouse (crawled now or before).",
        report.succeeded + report.skipped,
        len(report.outcomes),
    )
    # ZenML refuses ":" in metadata keys, so `host:port` domains are logged as `host_port`.
    by_domain = {domain.replace(":", "_"): counts for domain, counts in report.by_domain().items()}
    log_metadata(metadata={**by_domain, "summary": report.totals()}, infer_artifact=True)
    stored = (CrawlStatus.SUCCEEDED, CrawlStatus.SKIPPED_ALREADY_CRAWLED)
    return [outcome.link for outcome in report.outcomes if outcome.status in stored]
