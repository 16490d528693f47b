"""Chooses the crawler for a link by its domain (or any regex), falling back to the custom article crawler."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from llm_engineering.application.crawlers.base import BaseCrawler, CrawlerContext
from llm_engineering.application.crawlers.custom_article import CustomArticleCrawler
from llm_engineering.application.crawlers.github import GithubCrawler
from llm_engineering.application.crawlers.linkedin import LinkedInCrawler
from llm_engineering.application.crawlers.medium import MediumCrawler

CRAWLERS_BY_NAME: dict[str, type[BaseCrawler]] = {
    crawler.name: crawler for crawler in (CustomArticleCrawler, GithubCrawler, LinkedInCrawler, MediumCrawler)
}


def domain_pattern(prefix: str) -> str:
    """Regex for links under `prefix` (a domain, `host:port`, or a URL with a path prefix).

    Both http and https match, as does any subdomain (`www.`, `user.medium.com`); the book's pattern
    matched only `https://` and `www.`.
    """
    parsed = urlparse(prefix if "://" in prefix else f"//{prefix}")
    host = (parsed.netloc or parsed.path).lower().removeprefix("www.")
    if not host:
        raise ValueError(f"Cannot register crawler for {prefix!r}: no domain in it.")
    path = parsed.path.rstrip("/") if parsed.netloc else ""
    path_part = re.escape(path) + r"(?:[/?#]|$)" if path else r"(?::\d+)?(?:[/?#]|$)"
    return rf"^https?://(?:[a-z0-9-]+\.)*{re.escape(host)}{path_part}"


class CrawlerDispatcher:
    """A registry of (regex, crawler class); the first matching entry wins, in registration order."""

    def __init__(self) -> None:
        self._routes: list[tuple[re.Pattern[str], type[BaseCrawler]]] = []

    @classmethod
    def build(cls) -> CrawlerDispatcher:
        return cls()

    @classmethod
    def default(cls) -> CrawlerDispatcher:
        """Medium, LinkedIn and GitHub registered; everything else goes to the custom article crawler."""
        return cls.build().register_medium().register_linkedin().register_github()

    # --- Registration (chainable) -------------------------------------------------------------
    def register(self, prefix: str, crawler: type[BaseCrawler] | str) -> CrawlerDispatcher:
        """Route links under `prefix` (`medium.com`, `127.0.0.1:8000/medium`, `https://github.com`) to `crawler`."""
        return self.register_pattern(domain_pattern(prefix), crawler)

    def register_pattern(self, pattern: str, crawler: type[BaseCrawler] | str) -> CrawlerDispatcher:
        """Route links matching the regex `pattern` (searched from the start, case-insensitive) to `crawler`."""
        crawler_cls = crawler_class(crawler)
        self._routes.append((re.compile(pattern, re.IGNORECASE), crawler_cls))
        return self

    def register_routes(self, routes: dict[str, str] | None) -> CrawlerDispatcher:
        """Register `{prefix_or_regex: crawler_name}` pairs from a config; a key starting with `^` is a regex.

        These go before the defaults' routes only if registered first; call this on a fresh dispatcher
        and then add the defaults to let a config override them.
        """
        for key, name in (routes or {}).items():
            if key.startswith("^"):
                self.register_pattern(key, name)
            else:
                self.register(key, name)
        return self

    def register_medium(self) -> CrawlerDispatcher:
        return self.register("medium.com", MediumCrawler)

    def register_linkedin(self) -> CrawlerDispatcher:
        return self.register("linkedin.com", LinkedInCrawler)

    def register_github(self) -> CrawlerDispatcher:
        return self.register("github.com", GithubCrawler)

    def register_local_git(self) -> CrawlerDispatcher:
        """Route file:// URLs and absolute paths (local repositories) to the GitHub crawler."""
        return self.register_pattern(r"^(?:file://|/)", GithubCrawler)

    # --- Lookup ---------------------------------------------------------------------------------
    def crawler_class_for(self, link: str) -> type[BaseCrawler]:
        for pattern, crawler_cls in self._routes:
            if pattern.match(link):
                return crawler_cls
        return CustomArticleCrawler  # the fallback: any plain HTML article page

    def get_crawler(self, link: str, context: CrawlerContext) -> BaseCrawler:
        """A new crawler instance for `link`, working in `context`."""
        return self.crawler_class_for(link)(context)


def crawler_class(crawler: type[BaseCrawler] | str) -> type[BaseCrawler]:
    """A crawler class from itself or its name (`medium`, `github`, `linkedin`, `custom_article`)."""
    if isinstance(crawler, str):
        try:
            return CRAWLERS_BY_NAME[crawler]
        except KeyError:
            known = ", ".join(sorted(CRAWLERS_BY_NAME))
            raise ValueError(f"Unknown crawler {crawler!r}; known crawlers: {known}.") from None
    return crawler
