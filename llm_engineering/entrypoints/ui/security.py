"""Who may use the UI's write routes (starting a crawl): same-origin requests only, plus a shared token when
API_UI_TOKEN is set.

- An `Origin` header must equal the request's own scheme://host:port (403 otherwise); without one, a
  `Sec-Fetch-Site` other than `same-origin`/`none` is refused too (a page of another site posting a form).
- Without a token, the request must name a loopback host (127.0.0.1, localhost, ::1): a page of another
  site whose name was rebound to this machine's address (DNS rebinding) passes the origin check, but not
  this one. A service reachable beyond 127.0.0.1 needs API_UI_TOKEN.
- With API_UI_TOKEN, header `X-Twin-Token: <token>` must match (compared in constant time; 401 otherwise).
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request

from llm_engineering.entrypoints.api.dependencies import get_settings_dependency
from llm_engineering.settings import Settings

TOKEN_HEADER = "X-Twin-Token"
SAFE_FETCH_SITES = frozenset({"same-origin", "none"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int | None]


def own_origin(request: Request) -> Origin:
    """(scheme, host, port) the request was sent to (from its Host header), default ports filled in."""
    url = request.url
    scheme = url.scheme.lower()
    return scheme, (url.hostname or "").lower(), url.port or DEFAULT_PORTS.get(scheme)


def parse_origin(value: str) -> Origin | None:
    """(scheme, host, port) of an `Origin` header, or None when it is `null` or malformed."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS.get(scheme)


def is_same_origin(request: Request) -> bool:
    """Whether the request comes from a page of this service (or from no page at all: curl, scripts)."""
    origin = request.headers.get("origin")
    if origin is not None:
        parsed = parse_origin(origin)
        return parsed is not None and parsed == own_origin(request)
    site = request.headers.get("sec-fetch-site")
    return site is None or site.strip().lower() in SAFE_FETCH_SITES


def configured_token(settings: Settings) -> str | None:
    """API_UI_TOKEN's value, None when unset or empty."""
    token = settings.API_UI_TOKEN
    value = token.get_secret_value() if token is not None else ""
    return value or None


def token_matches(given: str | None, expected: str) -> bool:
    return hmac.compare_digest((given or "").encode(), expected.encode())


def require_write_access(request: Request, settings: Annotated[Settings, Depends(get_settings_dependency)]) -> None:
    """FastAPI dependency of every UI write route: 403 cross-origin, 401 without the right token."""
    if not is_same_origin(request):
        raise HTTPException(status_code=403, detail="cross-origin request refused")
    expected = configured_token(settings)
    if expected is None:
        if own_origin(request)[1] not in LOOPBACK_HOSTS:
            raise HTTPException(
                status_code=403,
                detail="writes through a non-loopback host name need API_UI_TOKEN to be set on the service",
            )
        return
    if not token_matches(request.headers.get(TOKEN_HEADER), expected):
        raise HTTPException(status_code=401, detail=f"missing or wrong {TOKEN_HEADER} header")
