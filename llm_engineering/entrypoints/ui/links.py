"""Checking the links a UI user asks to crawl, as the crawl step would see them: a well-formed http(s) URL
the egress policy allows (public addresses only by default), and the crawler the dispatcher would give it
(which must be able to run with the current settings)."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlparse

from llm_engineering.application.crawlers.crawl_run import check_link_egress, validate_link
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawlers.egress import EgressPolicy
from llm_engineering.domain.exceptions import CrawlError

WEB_SCHEMES = ("http", "https")


def check_links(
    links: Sequence[str], dispatcher: CrawlerDispatcher, linkedin_configured: bool, egress: EgressPolicy
) -> tuple[dict[str, str], list[str]]:
    """({link: crawler name} of the good links, one problem line per bad link, naming it).

    Only http(s) links: the file:// URLs and paths the CLI accepts for local repositories would let a
    page read folders of the machine the service runs on. Each host is resolved and refused when the
    policy refuses any of its addresses (the crawl checks again, and pins the address, when it connects).
    """
    crawlers: dict[str, str] = {}
    problems: list[str] = []
    for link in links:
        try:
            validate_link(link)
        except CrawlError as error:
            problems.append(f"{link!r}: {error.reason}")
            continue
        scheme = urlparse(link).scheme.lower()
        if scheme not in WEB_SCHEMES:
            problems.append(f"{link!r}: only http:// and https:// links can be crawled from the UI")
            continue
        try:
            check_link_egress(link, egress)
        except CrawlError as error:
            problems.append(f"{link!r}: {error.reason}")
            continue
        crawler = dispatcher.crawler_class_for(link).name
        if crawler == "linkedin" and not linkedin_configured:
            problems.append(f"{link!r}: the linkedin crawler needs LINKEDIN_USERNAME and LINKEDIN_PASSWORD")
            continue
        crawlers[link] = crawler
    return crawlers, problems
