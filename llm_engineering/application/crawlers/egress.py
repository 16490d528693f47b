"""The egress policy: which addresses a crawler may connect to, decided before any connection is made.

By default only the public internet: every host is resolved and *every* address it resolves to must be a
global unicast address; loopback, private, link-local (cloud metadata), CGNAT, multicast, reserved and
unspecified ranges are refused, including when they hide inside IPv6 (IPv4-mapped, IPv4-compatible, NAT64,
6to4) or in the numeric IPv4 spellings browsers accept (`2852039166`, `0x7f000001`, `0177.0.0.1`).
`allow_private` opens loopback and private ranges (local fixtures, intranet sites); the scheme rules stay.

The policy returns the checked addresses so the caller can connect to exactly those (pinning): a second DNS
answer cannot switch the target after the check. The transports that enforce it live in infrastructure
(httpx transport, Chromium's proxy, git's resolve option).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.exceptions import CrawlError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
WEB_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
# Names that never mean a public host, refused without asking DNS.
_LOCAL_NAME_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".localdomain")
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
# The characters of an IPv4 address in any spelling inet_aton accepts (decimal, octal, hex, 1-4 parts).
_NUMERIC_HOST = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.IGNORECASE)
_NAT64_NETWORKS = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")


class HostResolver(Protocol):
    """Resolves a host name to its addresses (all of them); raises `CrawlError(DNS_FAILURE)` when it cannot."""

    def resolve(self, host: str, port: int) -> list[IPAddress]: ...


@dataclass(frozen=True)
class CheckedTarget:
    """A URL's host and port with the addresses the policy allowed: connect to these, and only these."""

    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def literal_address(host: str) -> IPAddress | None:
    """The IP address `host` spells, in any form a browser or `inet_aton` accepts, or None for a name."""
    candidate = host.strip().strip("[]")
    if "%" in candidate:  # an IPv6 zone index (`fe80::1%eth0`) only ever names a link-local address
        candidate = candidate.split("%", 1)[0]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(candidate):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(candidate.rstrip(".")))
        except OSError:
            return None
    return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), or None."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64_NETWORKS):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible `::a.b.c.d` (deprecated, still routed)
        return ipaddress.IPv4Address(int(address))
    return None


def non_public_reason(address: IPAddress) -> str | None:
    """Why `address` is not a public unicast address (None when it is)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = non_public_reason(inner)
            return f"{reason} (inside the IPv6 address {address})" if reason else None
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address (cloud metadata lives there)"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "a carrier-grade NAT address"),
        (address.is_private, "a private-network address"),
        (address.is_reserved, "a reserved address"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "a site-local address"),
        (not address.is_global, "not a public internet address"),
    )
    return next((reason for matched, reason in checks if matched), None)


def is_private_network_reason(reason: str) -> bool:
    """Whether a refusal is one `allow_private` lifts: loopback and private ranges, never link-local (cloud
    metadata), multicast, reserved or unspecified addresses."""
    return not any(word in reason for word in ("link-local", "multicast", "reserved", "unspecified"))


@dataclass(frozen=True)
class EgressPolicy:
    """Checks a URL before a crawler connects: scheme, host, and every address the host resolves to."""

    resolver: HostResolver
    allow_private: bool = False
    schemes: frozenset[str] = field(default=WEB_SCHEMES)

    def check_url(self, url: str) -> CheckedTarget:
        """The URL's target with its allowed addresses; raise `CrawlError` (FORBIDDEN_ADDRESS, UNSUPPORTED_SCHEME,
        MALFORMED_URL, DNS_FAILURE) when a crawler must not connect to it."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as error:
            raise CrawlError(CrawlErrorKind.MALFORMED_URL, f"malformed URL {url!r}: {error}") from error
        scheme = parts.scheme.lower()
        if scheme not in self.schemes:
            raise CrawlError(CrawlErrorKind.UNSUPPORTED_SCHEME, f"only http(s) links are crawled, not {url!r}")
        if not parts.hostname:
            raise CrawlError(CrawlErrorKind.MALFORMED_URL, f"URL has no host: {url!r}")
        return self.check_host(parts.hostname, port or DEFAULT_PORTS.get(scheme, 443), scheme)

    def check_host(self, host: str, port: int, scheme: str = "https") -> CheckedTarget:
        """`host:port` with its allowed addresses; raise `CrawlError(FORBIDDEN_ADDRESS)` if any address is refused."""
        host = host.strip().strip("[]").lower().rstrip(".") or host
        literal = literal_address(host)
        if literal is None and not self.allow_private and _is_local_name(host):
            raise forbidden(host, "a local host name")
        addresses = (literal,) if literal is not None else tuple(self.resolver.resolve(host, port))
        if not addresses:
            raise CrawlError(CrawlErrorKind.DNS_FAILURE, f"DNS lookup for {host} returned no address")
        self.check_addresses(host, addresses)
        return CheckedTarget(scheme=scheme, host=host, port=port, addresses=addresses)

    def check_addresses(self, host: str, addresses: Sequence[IPAddress]) -> None:
        """Raise `CrawlError(FORBIDDEN_ADDRESS)` unless every address is allowed (one bad answer taints the host)."""
        for address in addresses:
            reason = non_public_reason(address)
            if reason is None or (self.allow_private and is_private_network_reason(reason)):
                continue
            raise forbidden(host, f"{address} is {reason}")


def forbidden(host: str, why: str) -> CrawlError:
    return CrawlError(
        CrawlErrorKind.FORBIDDEN_ADDRESS,
        f"refused to connect to {host}: {why}; crawlers reach only the public internet "
        "(set CRAWL_ALLOW_PRIVATE_NETWORKS=true to crawl local or intranet pages)",
    )


def _is_local_name(host: str) -> bool:
    return host in _LOCAL_NAMES or host.endswith(_LOCAL_NAME_SUFFIXES) or "." not in host
