"""422 answers that can always be written: FastAPI's error list (`loc`, `msg`, `type`, `input`, `ctx`) with
the echoed values made JSON-safe and bounded.

FastAPI's own handler echoes each error's `input` as is. A body with `NaN` or `1e309` (Python's json reads
both) or a lone surrogate (`"\\ud800"`) then fails to serialise, the handler raises, and the client gets a
500 and a dropped connection instead of a 422; a 1 MB string is echoed whole. Here every echoed value is
truncated, non-finite numbers become strings, invalid Unicode and bytes are escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

MAX_ERRORS = 20
MAX_ECHO_CHARS = 120
MAX_MESSAGE_CHARS = 500
MAX_ITEMS = 10
MAX_DEPTH = 3
# Integers past 2**53 lose precision in JavaScript clients; they are echoed as (truncated) digits.
MAX_EXACT_INTEGER = 2**53
ELLIPSIS = "…"


def safe_text(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """`text` cut to `limit` characters (marked with …), lone surrogates written as `\\udXXX` escapes."""
    cut = text if len(text) <= limit else text[:limit] + ELLIPSIS
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


def safe_json(value: Any, depth: int = 0) -> Any:
    """`value` as something `json.dumps(allow_nan=False)` writes in UTF-8, bounded in size.

    Finite numbers, booleans and None stay; NaN and infinities become "NaN"/"Infinity"/"-Infinity"; strings
    and bytes are cut and escaped; containers keep their first MAX_ITEMS items and MAX_DEPTH levels; anything
    else becomes its (cut) string.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_EXACT_INTEGER else safe_text(_digits(value))
    if isinstance(value, float):
        return value if math.isfinite(value) else _non_finite_name(value)
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, bytes | bytearray):
        return safe_text(bytes(value[: MAX_ECHO_CHARS * 4]).decode("utf-8", "backslashreplace"))
    if isinstance(value, Mapping | list | tuple | set | frozenset) and depth >= MAX_DEPTH:
        return ELLIPSIS
    if isinstance(value, Mapping):
        items = list(value.items())
        safe = {safe_text(str(key)): safe_json(item, depth + 1) for key, item in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            safe[ELLIPSIS] = f"{len(items) - MAX_ITEMS} more"
        return safe
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        safe_items = [safe_json(item, depth + 1) for item in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            safe_items.append(f"{ELLIPSIS} {len(items) - MAX_ITEMS} more")
        return safe_items
    return safe_text(_describe(value))


def safe_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """One pydantic/FastAPI error with `type`, `loc` and `msg` kept, `input` and `ctx` made safe (`url` dropped)."""
    safe: dict[str, Any] = {
        "type": safe_text(str(error.get("type", "value_error"))),
        "loc": [_location_part(part) for part in error.get("loc", ())],
        "msg": safe_text(str(error.get("msg", "invalid input")), MAX_MESSAGE_CHARS),
    }
    if "input" in error:
        safe["input"] = safe_json(error["input"])
    context = error.get("ctx")
    if isinstance(context, Mapping):
        safe["ctx"] = {
            safe_text(str(key)): safe_json(value, depth=1) for key, value in list(context.items())[:MAX_ITEMS]
        }
    return safe


def safe_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The first MAX_ERRORS errors, each made safe (a list of 10,000 bad links gets no 10,000-line answer)."""
    return [safe_error(error) for error in errors[:MAX_ERRORS]]


async def validation_error_handler(_: Request, error: Exception) -> JSONResponse:
    """FastAPI's 422 body, `{"detail": [errors]}`, safe to serialise whatever the client sent."""
    errors = error.errors() if isinstance(error, RequestValidationError) else []
    return JSONResponse(status_code=422, content={"detail": safe_errors(errors)})


def _location_part(part: Any) -> str | int:
    # The schema allows strings and integers; a key with a lone surrogate or of 1 MB is cut and escaped.
    if isinstance(part, int) and not isinstance(part, bool) and abs(part) <= MAX_EXACT_INTEGER:
        return part
    return safe_text(str(part))


def _non_finite_name(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _digits(value: int) -> str:
    try:
        return str(value)
    except ValueError:  # past sys.get_int_max_str_digits()
        return f"an integer of {value.bit_length()} bits"


def _describe(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - an object whose __str__ fails is still described
        return type(value).__name__
