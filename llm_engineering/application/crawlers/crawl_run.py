"""Crawl an author's links into the warehouse: validate, skip what is stored, crawl the rest concurrently.

Concurrency is a bounded thread pool with a per-domain cap (politeness, and Medium/Substack rate limits).
Crawler instances are pooled for the whole run: a worker checks one out per link and returns it, so a
browser crawler's browser starts once per concurrent slot and is reused across links; browser links
have their own, smaller cap. Every link ends with a `CrawlOutcome`; one bad link
never stops the run.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from urllib.parse import urlparse

from loguru import logger

from llm_engineering.application.crawlers.base import BaseCrawler, CrawlerContext
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawlers.egress import EgressPolicy
from llm_engineering.application.errors import AlreadyCrawledError, LowContentError
from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.domain.crawling import CrawlErrorKind, CrawlOutcome, CrawlReport, CrawlStatus
from llm_engineering.domain.documents import Document, UserDocument
from llm_engineering.domain.exceptions import CrawlError, WarehouseUnavailableError

SUPPORTED_SCHEMES = ("http", "https", "file")
LOCAL_DOMAIN = "local"
_KNOWN_LINKS_BATCH = 200


@dataclass(frozen=True)
class PoolLimits:
    """How much runs at once: links overall, links of one domain, links that need a browser."""

    max_workers: int = 8
    per_domain_limit: int = 4
    max_browsers: int = 2

    def __post_init__(self) -> None:
        if min(self.max_workers, self.per_domain_limit, self.max_browsers) < 1:
            raise ValueError("max_workers, per_domain_limit and max_browsers must be at least 1")


@dataclass(frozen=True)
class CrawlJob:
    index: int
    link: str
    domain: str
    crawler_cls: type[BaseCrawler]


def validate_link(raw: object) -> str:
    """The link, stripped; raise `CrawlError` (malformed URL / unsupported scheme) when it cannot be crawled.

    http(s) URLs need a host; `file://` URLs and absolute paths are accepted for local git repositories.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise CrawlError(CrawlErrorKind.MALFORMED_URL, f"not a URL: {raw!r}")
    link = raw.strip()
    if any(character.isspace() for character in link):
        raise CrawlError(CrawlErrorKind.MALFORMED_URL, f"URL contains whitespace: {link!r}")
    if link.startswith("/"):
        return link
    try:
        parsed = urlparse(link)
        _ = parsed.port  # raises ValueError on a bad port
    except ValueError as error:
        raise CrawlError(CrawlErrorKind.MALFORMED_URL, f"malformed URL {link!r}: {error}") from error
    if parsed.scheme and parsed.scheme.lower() not in SUPPORTED_SCHEMES:
        raise CrawlError(CrawlErrorKind.UNSUPPORTED_SCHEME, f"unsupported URL scheme {parsed.scheme!r} in {link!r}")
    if not parsed.scheme or "://" not in link:
        raise CrawlError(CrawlErrorKind.MALFORMED_URL, f"URL has no scheme (expected https://...): {link!r}")
    if parsed.scheme.lower() != "file" and not parsed.hostname:
        raise CrawlError(CrawlErrorKind.MALFORMED_URL, f"URL has no host: {link!r}")
    return link


def is_local_link(link: str) -> bool:
    """A local repository (absolute path or file:// URL) rather than a web address."""
    return link.startswith("/") or link.lower().startswith("file:")


def check_link_egress(link: str, egress: EgressPolicy) -> None:
    """Raise `CrawlError(FORBIDDEN_ADDRESS, ...)` when the policy forbids crawling `link` (a validated link).

    Web links are resolved and every address checked; local repositories need private access allowed.
    """
    if is_local_link(link):
        if not egress.allow_private:
            raise CrawlError(
                CrawlErrorKind.FORBIDDEN_ADDRESS,
                f"refused to read the local path {link!r}: set CRAWL_ALLOW_PRIVATE_NETWORKS=true to crawl local "
                "repositories",
            )
        return
    egress.check_url(link)


def link_domain(link: str) -> str:
    """The domain a link counts under in limits and metadata (`host[:port]`, or `local` for local repositories)."""
    if is_local_link(link):
        return LOCAL_DOMAIN
    netloc = urlparse(link).netloc.lower()
    return netloc or "unknown"


class _CrawlerPool:
    """Idle crawler instances per class, checked out by one worker at a time and closed at the end.

    A pool rather than one instance per thread: the number of instances of a class (so of browsers)
    never exceeds how many links of that class ran at the same time.
    """

    def __init__(self, context: CrawlerContext):
        self.context = context
        self._idle: dict[type[BaseCrawler], list[BaseCrawler]] = {}
        self._all: list[BaseCrawler] = []
        self._lock = threading.Lock()

    def acquire(self, crawler_cls: type[BaseCrawler]) -> BaseCrawler:
        with self._lock:
            idle = self._idle.get(crawler_cls)
            if idle:
                return idle.pop()
        crawler = crawler_cls(self.context)
        with self._lock:
            self._all.append(crawler)
        return crawler

    def release(self, crawler: BaseCrawler) -> None:
        if crawler.broken:  # e.g. its browser died: the next link gets a fresh instance
            self._close(crawler)
            return
        with self._lock:
            self._idle.setdefault(type(crawler), []).append(crawler)

    def close_all(self) -> None:
        with self._lock:
            crawlers, self._all, self._idle = self._all, [], {}
        for crawler in crawlers:
            self._close(crawler)

    @staticmethod
    def _close(crawler: BaseCrawler) -> None:
        try:
            crawler.close()
        except Exception as error:  # noqa: BLE001 - a failed cleanup must not hide the run's results
            logger.warning("Closing {} failed: {}", crawler.name, error)


def _crawl_one(job: CrawlJob, user: UserDocument, crawlers: _CrawlerPool) -> CrawlOutcome:
    started = time.monotonic()
    name = job.crawler_cls.name
    crawler: BaseCrawler | None = None
    try:
        if crawlers.context.egress is not None:  # refused links fail before any crawler or browser starts
            check_link_egress(job.link, crawlers.context.egress)
        crawler = crawlers.acquire(job.crawler_cls)
        documents = crawler.extract(job.link, user)
        outcome = CrawlOutcome(
            link=job.link, domain=job.domain, crawler=name, status=CrawlStatus.SUCCEEDED, documents=documents
        )
    except AlreadyCrawledError:
        outcome = CrawlOutcome(
            link=job.link, domain=job.domain, crawler=name, status=CrawlStatus.SKIPPED_ALREADY_CRAWLED
        )
    except LowContentError as error:  # fetched fine, but mostly links or boilerplate: nothing stored
        outcome = CrawlOutcome.low_content(job.link, job.domain, error.reason, crawler=name)
    except CrawlError as error:
        outcome = CrawlOutcome.failed(job.link, job.domain, error, crawler=name)
    except WarehouseUnavailableError:
        raise  # every following link would fail the same way: stop the run with the real cause
    except Exception as error:  # noqa: BLE001 - one bad link (or crawler bug) must not stop the run
        logger.exception("Unexpected error while crawling {}", job.link)
        outcome = CrawlOutcome.failed(
            job.link, job.domain, CrawlError(CrawlErrorKind.UNEXPECTED, f"{type(error).__name__}: {error}"), name
        )
    finally:
        if crawler is not None:
            crawlers.release(crawler)
    outcome.seconds = round(time.monotonic() - started, 3)
    _log_outcome(outcome)
    return outcome


def _log_outcome(outcome: CrawlOutcome) -> None:
    if outcome.status is CrawlStatus.FAILED:
        logger.warning("FAILED  {} [{}]: {}", outcome.link, outcome.error_kind, outcome.reason)
    elif outcome.status is CrawlStatus.SKIPPED_ALREADY_CRAWLED:
        logger.info("SKIPPED {} (already in the warehouse)", outcome.link)
    elif outcome.status is CrawlStatus.SKIPPED_LOW_CONTENT:
        logger.warning("SKIPPED {} (not stored): {}", outcome.link, outcome.reason)
    else:
        logger.info(
            "OK      {} ({} document(s), {:.2f}s, {})",
            outcome.link,
            outcome.documents,
            outcome.seconds,
            outcome.crawler,
        )


def known_links(jobs: Sequence[CrawlJob], documents: DocumentRepository) -> set[str]:
    """Links of `jobs` whose document is already in `documents` (one query per document class and batch)."""
    by_model: dict[type[Document], list[str]] = {}
    for job in jobs:
        if job.crawler_cls.skips_known_links:
            by_model.setdefault(job.crawler_cls.model, []).append(job.link)
    found: set[str] = set()
    for model, links in by_model.items():
        for start in range(0, len(links), _KNOWN_LINKS_BATCH):
            batch = links[start : start + _KNOWN_LINKS_BATCH]
            found.update(document.link for document in documents.bulk_find(model, link=batch))  # type: ignore[attr-defined]
    return found


def _run_pool(
    jobs: Sequence[CrawlJob],
    user: UserDocument,
    context: CrawlerContext,
    limits: PoolLimits,
    show_progress: bool,
) -> list[CrawlOutcome]:
    from tqdm import tqdm

    # One queue per (domain, needs a browser), so a link waiting for a browser never blocks plain HTTP links.
    pending: dict[tuple[str, bool], deque[CrawlJob]] = {}
    for job in jobs:
        pending.setdefault((job.domain, job.crawler_cls.uses_browser), deque()).append(job)
    running: Counter[str] = Counter()
    browsers_running = 0
    in_flight: dict[Future[CrawlOutcome], CrawlJob] = {}
    outcomes: list[CrawlOutcome] = []
    crawlers = _CrawlerPool(context)

    def submit_ready(executor: ThreadPoolExecutor) -> None:
        nonlocal browsers_running
        # Round-robin over the queues so one big domain does not starve the others.
        progressed = True
        while progressed and len(in_flight) < limits.max_workers:
            progressed = False
            for key, queue in list(pending.items()):
                domain, uses_browser = key
                if len(in_flight) >= limits.max_workers:
                    break
                if running[domain] >= limits.per_domain_limit:
                    continue
                if uses_browser and browsers_running >= limits.max_browsers:
                    continue
                job = queue.popleft()
                running[domain] += 1
                browsers_running += uses_browser
                in_flight[executor.submit(_crawl_one, job, user, crawlers)] = job
                progressed = True
                if not queue:
                    del pending[key]

    try:
        with (
            ThreadPoolExecutor(max_workers=limits.max_workers, thread_name_prefix="crawl") as executor,
            tqdm(total=len(jobs), desc="crawling", unit="link", disable=not show_progress) as progress,
        ):
            submit_ready(executor)
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    job = in_flight.pop(future)
                    running[job.domain] -= 1
                    browsers_running -= job.crawler_cls.uses_browser
                    outcomes.append(future.result())
                    progress.update(1)
                submit_ready(executor)
    finally:
        crawlers.close_all()
    return outcomes


def crawl_links(
    user: UserDocument,
    links: Iterable[object],
    dispatcher: CrawlerDispatcher,
    context: CrawlerContext,
    max_workers: int = 8,
    per_domain_limit: int = 4,
    max_browsers: int = 2,
    show_progress: bool = True,
) -> CrawlReport:
    """Crawl `links` for `user` into the context's warehouse (`context.documents`) and report what happened to each.

    Invalid links, and links the context's egress policy refuses, fail without being fetched; links already
    stored are skipped (re-runs add nothing);
    the others are crawled by at most `max_workers` threads, `per_domain_limit` at a time per domain and
    `max_browsers` at a time with a browser (each running headless Chromium costs a CPU core or so).
    Outcomes come back in the order of the input (duplicates in the input are crawled once).
    """
    limits = PoolLimits(max_workers, per_domain_limit, max_browsers)
    seen: set[str] = set()
    duplicates = 0
    results: dict[int, CrawlOutcome] = {}
    jobs: list[CrawlJob] = []
    for raw in links:
        key = raw.strip() if isinstance(raw, str) else repr(raw)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        index = len(seen) - 1
        try:
            link = validate_link(raw)
        except CrawlError as error:
            results[index] = CrawlOutcome.failed(str(raw), "invalid", error)
            _log_outcome(results[index])
            continue
        jobs.append(CrawlJob(index, link, link_domain(link), dispatcher.crawler_class_for(link)))

    stored = known_links(jobs, context.documents)
    to_crawl: list[CrawlJob] = []
    for job in jobs:
        if job.crawler_cls.skips_known_links and job.link in stored:
            results[job.index] = CrawlOutcome(
                link=job.link,
                domain=job.domain,
                crawler=job.crawler_cls.name,
                status=CrawlStatus.SKIPPED_ALREADY_CRAWLED,
            )
        else:
            to_crawl.append(job)
    if stored:
        logger.info("{} link(s) already in the warehouse are skipped.", len(stored))

    by_link = {job.link: job.index for job in to_crawl}
    for outcome in _run_pool(to_crawl, user, context, limits, show_progress):
        results[by_link[outcome.link]] = outcome

    report = CrawlReport.of((results[index] for index in sorted(results)), duplicates_in_input=duplicates)
    logger.info(report.summary_line())
    return report
