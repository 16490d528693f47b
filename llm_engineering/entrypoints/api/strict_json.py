"""Request bodies read as strict JSON (RFC 8259: UTF-8 text), so that every unreadable body is a 422.

FastAPI answers a body that `json.loads` rejects with a 422 (`json_invalid`), but one that fails otherwise
with a 400 "There was an error parsing the body": bytes that are not UTF-8, an integer of more than 4300
digits (Python's int limit), arrays nested past the recursion limit. `json.loads(bytes)` also decodes with
"surrogatepass", turning the UTF-8 bytes of a surrogate into a lone surrogate. Here each of these is a
`JSONDecodeError`, which FastAPI turns into its 422. (`NaN` and `Infinity` parse, and are refused by the
request models with the field named: see `schemas.StrictRequest`.)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def parse_json_body(body: bytes) -> Any:
    """The JSON value of `body`; `json.JSONDecodeError` for anything that is not valid UTF-8 JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        # FastAPI keeps `doc` on the error it raises (never echoed): a lossy copy keeps it printable.
        raise json.JSONDecodeError("the body is not UTF-8 text", body.decode("utf-8", "replace"), error.start) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer past sys.get_int_max_str_digits()
        raise json.JSONDecodeError(f"a number of more than {sys.get_int_max_str_digits()} digits", text, 0) from None
    except RecursionError:
        raise json.JSONDecodeError("the body is nested too deeply", text, 0) from None


class StrictJSONRequest(Request):
    """A request whose `json()` is `parse_json_body` of its body."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json_body(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """An `APIRoute` whose handler reads bodies as strict JSON: give it to `APIRouter(route_class=...)`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler
