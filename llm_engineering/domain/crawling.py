"""Crawl outcomes: what happened to each link of a data-collection run, and the run's summary.

Pure models: the crawlers (application layer) produce them, the ZenML step logs them as metadata.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from llm_engineering.domain.exceptions import CrawlError


class CrawlStatus(StrEnum):
    SUCCEEDED = "succeeded"
    SKIPPED_ALREADY_CRAWLED = "skipped_already_crawled"
    # Fetched, but mostly links or boilerplate: not stored (it would pollute retrieval); `reason` says why.
    SKIPPED_LOW_CONTENT = "skipped_low_content"
    FAILED = "failed"


class CrawlErrorKind(StrEnum):
    """Why a link failed; stable codes for metadata and tests, next to a human-readable reason."""

    MALFORMED_URL = "malformed_url"
    UNSUPPORTED_SCHEME = "unsupported_scheme"
    FORBIDDEN_ADDRESS = "forbidden_address"  # refused by the egress policy (private, loopback, metadata...)
    DNS_FAILURE = "dns_failure"
    CONNECTION_FAILED = "connection_failed"
    HTTP_ERROR = "http_error"
    TIMEOUT = "timeout"
    NOT_HTML = "not_html"
    BAD_ENCODING = "bad_encoding"  # the bytes fit neither the declared charset nor any detected one
    EMPTY_PAGE = "empty_page"
    TOO_LARGE = "too_large"
    CLONE_FAILED = "clone_failed"
    NEEDS_CREDENTIALS = "needs_credentials"
    LOGIN_FAILED = "login_failed"
    BROWSER_ERROR = "browser_error"
    STORAGE_ERROR = "storage_error"
    UNEXPECTED = "unexpected"


class CrawlOutcome(BaseModel):
    """What happened to one link."""

    link: str
    domain: str
    crawler: str | None = None
    status: CrawlStatus
    error_kind: CrawlErrorKind | None = None
    reason: str | None = None
    documents: int = Field(default=0, ge=0, description="Documents written to the warehouse for this link.")
    seconds: float = Field(default=0.0, ge=0)

    @classmethod
    def failed(cls, link: str, domain: str, error: CrawlError, crawler: str | None = None) -> CrawlOutcome:
        return cls(
            link=link,
            domain=domain,
            crawler=crawler,
            status=CrawlStatus.FAILED,
            error_kind=error.kind,
            reason=error.reason,
        )

    @classmethod
    def low_content(cls, link: str, domain: str, reason: str, crawler: str | None = None) -> CrawlOutcome:
        """A page fetched but not stored: mostly links or boilerplate, as `reason` explains."""
        return cls(link=link, domain=domain, crawler=crawler, status=CrawlStatus.SKIPPED_LOW_CONTENT, reason=reason)


class CrawlReport(BaseModel):
    """All outcomes of one run, in the order of the input links."""

    outcomes: list[CrawlOutcome] = Field(default_factory=list)
    duplicates_in_input: int = 0

    @classmethod
    def of(cls, outcomes: Iterable[CrawlOutcome], duplicates_in_input: int = 0) -> CrawlReport:
        return cls(outcomes=list(outcomes), duplicates_in_input=duplicates_in_input)

    def count(self, status: CrawlStatus) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status is status)

    @property
    def succeeded(self) -> int:
        return self.count(CrawlStatus.SUCCEEDED)

    @property
    def skipped(self) -> int:
        """Links skipped because their document was already stored (low-content pages: `skipped_low_content`)."""
        return self.count(CrawlStatus.SKIPPED_ALREADY_CRAWLED)

    @property
    def skipped_low_content(self) -> int:
        return self.count(CrawlStatus.SKIPPED_LOW_CONTENT)

    @property
    def failed(self) -> int:
        return self.count(CrawlStatus.FAILED)

    @property
    def documents(self) -> int:
        return sum(outcome.documents for outcome in self.outcomes)

    def by_domain(self) -> dict[str, dict[str, Any]]:
        """Per-domain counts and reasons: `{domain: {tried, succeeded, skipped_already_crawled,
        skipped_low_content, failed, documents, failures: [{link, kind, reason}], low_content: [{link, reason}]}}`."""
        domains: dict[str, dict[str, Any]] = {}
        for outcome in self.outcomes:
            entry = domains.setdefault(
                outcome.domain,
                {
                    "tried": 0,
                    "succeeded": 0,
                    "skipped_already_crawled": 0,
                    "skipped_low_content": 0,
                    "failed": 0,
                    "documents": 0,
                    "failures": [],
                    "low_content": [],
                },
            )
            entry["tried"] += 1
            entry[outcome.status.value] += 1
            entry["documents"] += outcome.documents
            if outcome.status is CrawlStatus.FAILED:
                kind = outcome.error_kind.value if outcome.error_kind else CrawlErrorKind.UNEXPECTED.value
                entry["failures"].append({"link": outcome.link, "kind": kind, "reason": outcome.reason or ""})
            elif outcome.status is CrawlStatus.SKIPPED_LOW_CONTENT:
                entry["low_content"].append({"link": outcome.link, "reason": outcome.reason or ""})
        return domains

    def totals(self) -> dict[str, int]:
        return {
            "tried": len(self.outcomes),
            "succeeded": self.succeeded,
            "skipped_already_crawled": self.skipped,
            "skipped_low_content": self.skipped_low_content,
            "failed": self.failed,
            "documents": self.documents,
            "duplicates_in_input": self.duplicates_in_input,
        }

    def summary_line(self) -> str:
        totals = self.totals()
        return (
            f"Crawled {totals['tried']} links: {totals['succeeded']} succeeded, "
            f"{totals['skipped_already_crawled']} skipped (already crawled), "
            f"{totals['skipped_low_content']} skipped (low content), {totals['failed']} failed; "
            f"{totals['documents']} documents stored."
        )
