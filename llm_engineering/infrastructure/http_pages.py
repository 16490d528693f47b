"""HTTP adapter for the article crawlers: fetch one HTML page with limits, httpx errors -> `CrawlError`."""

from __future__ import annotations

import logging
import socket
import time
from typing import TYPE_CHECKING

from loguru import logger

from llm_engineering.application.crawlers.ports import FetchedPage
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.page_encoding import decode_html

if TYPE_CHECKING:
    import httpx

    from llm_engineering.application.crawlers.egress import EgressPolicy

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) llm-twin-crawler/1.0"
HTML_TYPES = ("text/html", "application/xhtml+xml")
_DNS_MARKERS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "no address associated",
    "name resolution",
    "getaddrinfo",
)


class HttpPageFetcher:
    """A `PageFetcher` over one pooled httpx client (thread-safe: all crawl workers share it).

    Fails with a specific `CrawlErrorKind` on DNS failure, refused connection, timeout (per operation and
    in total), HTTP 4xx/5xx, a content type that is not HTML, a body over `max_bytes`, and a body whose bytes
    fit neither the declared charset nor a detected one (`BAD_ENCODING`, see `page_encoding.decode_html`).
    """

    def __init__(
        self,
        timeout_s: float = 20.0,
        max_bytes: int = 5_000_000,
        max_connections: int = 32,
        egress: EgressPolicy | None = None,
    ):
        import httpx

        from llm_engineering.infrastructure.egress import PinnedTransport, default_policy

        # httpx logs every request at INFO; a crawl run reports per link itself.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        # Every request and redirect hop is checked by the egress policy (public internet only by default)
        # and sent to the checked address; proxies from the environment would resolve names themselves.
        self.egress = egress or default_policy()
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            transport=PinnedTransport(self.egress, lambda: httpx.HTTPTransport(limits=limits)),
            trust_env=False,
            max_redirects=10,
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT, "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"},
        )

    def fetch(self, url: str) -> FetchedPage:
        import httpx

        deadline = time.monotonic() + self.timeout_s
        try:
            with self._client.stream("GET", url) as response:
                self._check_head(url, response)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > self.max_bytes:
                        raise self._too_large(len(body), exact=False)
                    if time.monotonic() > deadline:  # a server dripping bytes must not hold a worker forever
                        raise CrawlError(CrawlErrorKind.TIMEOUT, f"page did not finish within {self.timeout_s:g}s")
                text = _decode_body(url, bytes(body), response.headers.get("content-type", ""))
                return FetchedPage(
                    url=url,
                    final_url=str(response.url),
                    status=response.status_code,
                    content_type=response.headers.get("content-type", ""),
                    text=text,
                )
        except CrawlError:
            raise
        except httpx.TimeoutException as error:
            raise CrawlError(
                CrawlErrorKind.TIMEOUT, f"no answer within {self.timeout_s:g}s ({type(error).__name__})"
            ) from error
        except httpx.ConnectError as error:
            raise _connect_error(url, error) from error
        except httpx.TooManyRedirects as error:
            raise CrawlError(CrawlErrorKind.HTTP_ERROR, f"too many redirects from {url}") from error
        except httpx.UnsupportedProtocol as error:
            raise CrawlError(CrawlErrorKind.UNSUPPORTED_SCHEME, f"unsupported URL scheme in {url}") from error
        except httpx.InvalidURL as error:
            raise CrawlError(CrawlErrorKind.MALFORMED_URL, f"malformed URL {url}: {error}") from error
        except httpx.HTTPError as error:
            raise CrawlError(
                CrawlErrorKind.CONNECTION_FAILED, f"transfer failed: {type(error).__name__}: {error}"
            ) from error

    def _check_head(self, url: str, response: httpx.Response) -> None:
        if response.status_code >= 400:
            raise CrawlError(
                CrawlErrorKind.HTTP_ERROR, f"HTTP {response.status_code} {response.reason_phrase} from {url}"
            )
        content_type = response.headers.get("content-type", "")
        # No header at all: let the parser judge; a declared non-HTML type is refused before downloading it.
        if content_type and not content_type.split(";")[0].strip().lower() in HTML_TYPES:
            raise CrawlError(CrawlErrorKind.NOT_HTML, f"content type {content_type.split(';')[0]} is not HTML")
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            raise self._too_large(int(length), exact=True)

    def _too_large(self, size: int, exact: bool) -> CrawlError:
        measured = f"{size} bytes" if exact else f"over {self.max_bytes} bytes"
        return CrawlError(CrawlErrorKind.TOO_LARGE, f"page is {measured}, over the {self.max_bytes}-byte limit")

    def close(self) -> None:
        self._client.close()


def _decode_body(url: str, body: bytes, content_type: str) -> str:
    """The page's text; a declared charset that does not fit the bytes is logged and overridden, and a body
    that fits no charset raises `CrawlError(BAD_ENCODING)` (see `decode_html`)."""
    decoded = decode_html(body, content_type)
    if decoded.rejected:
        logger.warning(
            "{}: read as {} ({}); refused: {}", url, decoded.encoding, decoded.source, "; ".join(decoded.rejected)
        )
    return decoded.text


def _connect_error(url: str, error: Exception) -> CrawlError:
    cause: BaseException | None = error
    text = str(error).lower()
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            text += " getaddrinfo"
        cause = cause.__cause__ or cause.__context__
    if any(marker in text for marker in _DNS_MARKERS):
        return CrawlError(CrawlErrorKind.DNS_FAILURE, f"DNS lookup failed for {url}")
    if "refused" in text:
        return CrawlError(CrawlErrorKind.CONNECTION_FAILED, f"connection refused by {url}")
    return CrawlError(CrawlErrorKind.CONNECTION_FAILED, f"could not connect to {url}: {error}")
