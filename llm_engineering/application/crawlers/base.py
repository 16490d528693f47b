"""Crawler base class and the context every crawler is built with."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from llm_engineering.application.crawlers.egress import EgressPolicy
from llm_engineering.application.crawlers.ports import BrowserFactory, PageFetcher
from llm_engineering.application.errors import AlreadyCrawledError
from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.documents import Document, UserDocument
from llm_engineering.domain.exceptions import CrawlError, DuplicateDocumentError, WarehouseOperationError


@dataclass(frozen=True)
class CrawlLimits:
    """Bounds that keep one bad link from stalling or bloating a run."""

    page_timeout_s: float = 20.0
    max_page_bytes: int = 5_000_000
    max_file_bytes: int = 1_000_000
    max_repository_bytes: int = 12_000_000
    clone_timeout_s: float = 120.0
    scroll_limit: int = 5
    scroll_pause_s: float = 1.0


@dataclass(frozen=True)
class LinkedInCredentials:
    username: str
    password: str = field(repr=False)


@dataclass
class CrawlerContext:
    """Everything a crawler may use; built once per run by a composition root and shared by all workers.

    `documents` is the warehouse the crawlers store into (and the crawl run looks known links up in).
    `fetcher` is shared (thread-safe); `browser_factory` is called by each browser crawler instance,
    so every worker owns at most one browser per browser crawler class. `egress` is the policy every link
    is checked against before a crawler starts (the fetcher and browser enforce it again per connection);
    None in unit tests of crawl logic that never connect.
    """

    documents: DocumentRepository
    limits: CrawlLimits = field(default_factory=CrawlLimits)
    egress: EgressPolicy | None = None
    fetcher: PageFetcher | None = None
    browser_factory: BrowserFactory | None = None
    linkedin: LinkedInCredentials | None = None
    linkedin_login_url: str = "https://www.linkedin.com/login"


class BaseCrawler(ABC):
    """Extracts one link into warehouse documents.

    Instances are pooled by the crawl run: one link at a time per instance, reused across links and
    closed at the end, so costly resources (a browser, a login session) are not created per link.
    """

    model: ClassVar[type[Document]]
    name: ClassVar[str]
    # Crawlers whose documents carry the crawled link can be skipped when the link is already stored.
    skips_known_links: ClassVar[bool] = True
    # Browser crawlers are CPU-heavy: the pool caps how many run at once.
    uses_browser: ClassVar[bool] = False

    def __init__(self, context: CrawlerContext):
        self.context = context
        self.broken = False  # set when the instance cannot be reused (e.g. its browser died)

    @abstractmethod
    def extract(self, link: str, user: UserDocument) -> int:
        """Crawl `link` for `user`, store the documents and return how many were stored.

        Raises `CrawlError` with a specific kind when the link cannot be crawled.
        """

    def close(self) -> None:  # noqa: B027 - an optional hook: most crawlers hold nothing to release
        """Release what the crawler holds (browser, temporary files)."""

    def _save(self, document: Document) -> int:
        try:
            self.context.documents.save(document)
        except DuplicateDocumentError as error:
            raise AlreadyCrawledError(str(error)) from error
        except WarehouseOperationError as error:
            raise CrawlError(CrawlErrorKind.STORAGE_ERROR, f"the warehouse refused the document: {error}") from error
        return 1
