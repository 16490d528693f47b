"""A forward proxy on 127.0.0.1 that holds headless Chromium to the egress policy.

Chromium is started with `--proxy-server` pointing here (loopback included, `<-loopback>`), so every
navigation, redirect hop, subresource, fetch and websocket goes through `EgressProxy`, which checks the
host with the policy, connects to the checked address itself (pinned: Chromium never resolves names)
and relays the bytes. A refused host gets a 403 (plain HTTP) or a failed tunnel (CONNECT), and the
refusal is remembered so the browser adapter can report why a page failed.

Small and dependency-free on purpose: one thread per connection, bounded header size, timeouts on every
socket, and `Connection: close` upstream so a plain-HTTP relay ends with its response.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

from loguru import logger

from llm_engineering.application.crawlers.egress import EgressPolicy
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.exceptions import CrawlError

MAX_HEAD_BYTES = 64 * 1024
# Chromium's own service traffic (updates, sign-in, hints, its search engine's start page) that its flags do
# not silence: refused by name, before any DNS query, so a crawl never phones the browser's vendors.
BROWSER_SERVICE_HOSTS = frozenset(
    {
        "accounts.google.com",
        "clients1.google.com",
        "clients2.google.com",
        "content-autofill.googleapis.com",
        "optimizationguide-pa.googleapis.com",
        "redirector.gvt1.com",
        "safebrowsing.googleapis.com",
        "start.duckduckgo.com",
        "update.googleapis.com",
    }
)
_HOP_BY_HOP = frozenset({"proxy-connection", "proxy-authorization", "connection", "keep-alive", "te", "upgrade"})
_RELAY_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Refusal:
    """A connection the proxy did not make (refused by the policy, or failed), and why."""

    host: str
    kind: CrawlErrorKind
    reason: str
    at: float


class EgressProxy:
    """An HTTP(S) forward proxy enforcing `policy`; `start()` it, hand `proxy_url` to the browser, `close()` it."""

    def __init__(self, policy: EgressPolicy, connect_timeout_s: float = 10.0, idle_timeout_s: float = 300.0):
        self.policy = policy
        self.connect_timeout_s = connect_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.refusals: deque[Refusal] = deque(maxlen=200)
        self._server: socket.socket | None = None
        self._closed = threading.Event()
        self._open: set[socket.socket] = set()  # closed with the proxy, so no relay outlives its browser
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the egress proxy is not started")
        return int(self._server.getsockname()[1])

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EgressProxy:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept_loop, name="egress-proxy", daemon=True).start()
        return self

    def refusal_since(self, started: float) -> Refusal | None:
        """The first refusal recorded at or after `started` (a `time.monotonic()` reading), if any; the
        browser's own service traffic, refused whenever Chromium sends it, never counts."""
        return next(
            (
                refusal
                for refusal in list(self.refusals)
                if refusal.at >= started and not _is_browser_service(refusal.host)
            ),
            None,
        )

    def close(self) -> None:
        self._closed.set()
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.close()
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._open.add(sock)
        return sock

    # --- Connections ---------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._server is not None
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), name="egress-proxy-conn", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            client.settimeout(self.idle_timeout_s)
            head, rest = _read_head(client)
            if head is None:
                return
            request_line, _, header_block = head.partition(b"\r\n")
            method, target, version = _split_request_line(request_line)
            if method == "CONNECT":
                upstream = self._open_tunnel(client, target)
                if upstream is not None:
                    _relay(client, upstream, rest, self.idle_timeout_s)
            else:
                upstream = self._forward_plain(client, method, target, version, header_block, rest)
                if upstream is not None:
                    _relay(client, upstream, b"", self.idle_timeout_s)
        except (OSError, ValueError) as error:
            logger.debug("egress proxy connection ended: {}", error)
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with self._lock:
                        self._open.discard(sock)
                    with contextlib.suppress(OSError):
                        sock.close()

    def _open_tunnel(self, client: socket.socket, target: str) -> socket.socket | None:
        host, _, port_text = target.rpartition(":")
        if not host or not port_text.isdigit():
            client.sendall(_response(400, "CONNECT needs host:port"))
            return None
        upstream = self._connect(client, host, int(port_text), "https")
        if upstream is not None:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        return upstream

    def _forward_plain(
        self, client: socket.socket, method: str, target: str, version: str, header_block: bytes, rest: bytes
    ) -> socket.socket | None:
        parts = urlsplit(target)
        if parts.scheme.lower() != "http" or not parts.hostname:
            client.sendall(_response(400, "only absolute http:// URLs are proxied"))
            return None
        upstream = self._connect(client, parts.hostname, parts.port or 80, "http")
        if upstream is None:
            return None
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        headers = [
            line
            for line in header_block.split(b"\r\n")
            if line and line.split(b":", 1)[0].strip().lower().decode("latin-1") not in _HOP_BY_HOP
        ]
        head = f"{method} {path} {version}\r\n".encode("latin-1") + b"\r\n".join([*headers, b"Connection: close"])
        upstream.sendall(head + b"\r\n\r\n" + rest)
        return upstream

    def _connect(self, client: socket.socket, host: str, port: int, scheme: str) -> socket.socket | None:
        """Check `host` and connect to its checked address; on refusal answer the client and return None."""
        try:
            if _is_browser_service(host):
                raise CrawlError(CrawlErrorKind.FORBIDDEN_ADDRESS, f"{host} is the browser's own service traffic")
            checked = self.policy.check_host(host, port, scheme)
        except CrawlError as error:
            self.refusals.append(Refusal(host, error.kind, error.reason, time.monotonic()))
            status = 403 if error.kind is CrawlErrorKind.FORBIDDEN_ADDRESS else 502
            client.sendall(_response(status, error.reason))
            return None
        address = checked.addresses[0]
        try:
            upstream = socket.create_connection((str(address), port), timeout=self.connect_timeout_s)
        except OSError as error:
            # Remembered too: Chromium shows any proxy failure as a generic error, the crawler wants the cause.
            kind = CrawlErrorKind.TIMEOUT if isinstance(error, TimeoutError) else CrawlErrorKind.CONNECTION_FAILED
            reason = f"could not connect to {host}:{port}: {error.strerror or error}"
            self.refusals.append(Refusal(host, kind, reason, time.monotonic()))
            client.sendall(_response(502, reason))
            return None
        upstream.settimeout(self.idle_timeout_s)
        return self._track(upstream)


def _is_browser_service(host: str) -> bool:
    return host.strip("[]").lower().rstrip(".") in BROWSER_SERVICE_HOSTS


def _read_head(client: socket.socket) -> tuple[bytes | None, bytes]:
    """The request head (up to the blank line) and any bytes read past it; (None, b"") if the client left."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(8192)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > MAX_HEAD_BYTES:
            client.sendall(_response(431, "request head too large"))
            return None, b""
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _split_request_line(line: bytes) -> tuple[str, str, str]:
    parts = line.decode("latin-1").split(" ")
    if len(parts) != 3:
        raise ValueError(f"bad request line {line[:200]!r}")
    method, target, version = parts
    if not version.startswith("HTTP/"):
        raise ValueError(f"bad HTTP version {version[:20]!r}")
    return method.upper(), target, version


def _response(status: int, reason: str) -> bytes:
    body = reason.encode("utf-8", "replace")
    titles = {400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large", 502: "Bad Gateway"}
    return (
        f"HTTP/1.1 {status} {titles.get(status, 'Error')}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-LLM-Twin-Egress: refused\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1") + body


def _relay(client: socket.socket, upstream: socket.socket, first: bytes, idle_timeout_s: float) -> None:
    """Copy bytes both ways until one side closes or nothing moves for `idle_timeout_s`."""
    if first:
        upstream.sendall(first)
    with selectors.DefaultSelector() as selector:
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        while True:
            events = selector.select(timeout=idle_timeout_s)
            if not events:
                return
            for key, _ in events:
                source: socket.socket = key.fileobj  # type: ignore[assignment]
                data = source.recv(_RELAY_CHUNK)
                if not data:
                    return
                key.data.sendall(data)
