"""Enforcing the egress policy on real connections: DNS through the system resolver, httpx pinned to the
checked address (every redirect hop checked again), and git told which address to use.

The policy (what is allowed) is `application.crawlers.egress`; this module makes sure the connection goes
exactly where the policy looked, so a DNS answer that changes between the check and the connect (DNS
rebinding) cannot switch the target.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from typing import TYPE_CHECKING

import httpx

from llm_engineering.application.crawlers.egress import CheckedTarget, EgressPolicy, IPAddress
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.exceptions import CrawlError

if TYPE_CHECKING:
    from collections.abc import Callable


class SystemResolver:
    """`HostResolver` over the operating system's resolver (`getaddrinfo`), every address it returns."""

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise CrawlError(CrawlErrorKind.DNS_FAILURE, f"DNS lookup failed for {host}: {error}") from error
        addresses: list[IPAddress] = []
        for _family, _type, _proto, _name, sockaddr in answers:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        return addresses


def default_policy(allow_private: bool = False) -> EgressPolicy:
    """The policy over the system resolver."""
    return EgressPolicy(resolver=SystemResolver(), allow_private=allow_private)


def pinned_host(address: IPAddress) -> str:
    """How an address is written as a URL host."""
    return f"[{address}]" if address.version == 6 else str(address)


class PinnedTransport(httpx.BaseTransport):
    """An httpx transport that checks every request's URL with the policy and connects to the checked address.

    httpx calls the transport once per redirect hop, so every hop is checked. The request goes to the IP
    address with the original `Host` header and, for https, the original name for SNI and certificate checks.
    One inner transport per host name keeps pooled TLS connections from being shared between names.
    `transport_factory` builds the inner transports (tests pass one that records what it was asked).
    """

    def __init__(
        self,
        policy: EgressPolicy,
        transport_factory: Callable[[], httpx.BaseTransport] | None = None,
    ):
        self.policy = policy
        self._factory = transport_factory or httpx.HTTPTransport
        self._inner: dict[str, httpx.BaseTransport] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = self.policy.check_url(str(request.url))
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=str(target.addresses[0])),
            headers=request.headers,  # keeps Host: the original name
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": target.host},
        )
        return self._transport_for(target).handle_request(pinned)

    def _transport_for(self, target: CheckedTarget) -> httpx.BaseTransport:
        with self._lock:
            transport = self._inner.get(target.host)
            if transport is None:
                transport = self._inner[target.host] = self._factory()
            return transport

    def close(self) -> None:
        with self._lock:
            transports, self._inner = list(self._inner.values()), {}
        for transport in transports:
            transport.close()


def git_pinning_options(policy: EgressPolicy, url: str) -> list[str]:
    """`git -c` options that make a clone of `url` connect only to the address the policy checked.

    libcurl is told the address for the host (`http.curloptResolve`), redirects are refused, and only the
    https and http protocols are allowed (no ssh, file or ext transports, also for submodules).
    """
    target = policy.check_url(url)
    options = [
        "-c",
        "protocol.allow=never",
        "-c",
        "protocol.https.allow=always",
        "-c",
        "protocol.http.allow=always",
        "-c",
        "http.followRedirects=false",
    ]
    for address in target.addresses[:1]:
        options += ["-c", f"http.curloptResolve={target.host}:{target.port}:{pinned_host(address)}"]
    return options
