"""The 422 body's echo of client input: JSON-safe and bounded whatever the client sent."""

from __future__ import annotations

import json
import math

import pytest

from llm_engineering.entrypoints.api.validation_errors import (
    MAX_ECHO_CHARS,
    MAX_ERRORS,
    MAX_ITEMS,
    safe_error,
    safe_errors,
    safe_json,
    safe_text,
)


def strict_json(value: object) -> str:
    """What the service writes: no NaN, UTF-8 (a lone surrogate fails here)."""
    text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")
    return text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (math.nan, "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (1.5, 1.5),
        (True, True),
        (None, None),
        (7, 7),
        ("\ud800", "\\ud800"),
        ("a\udfffb", "a\\udfffb"),
        (b"\xff\xfeok", "\\xff\\xfeok"),
    ],
)
def test_scalars_become_json_safe(value, expected):
    assert safe_json(value) == expected
    strict_json(safe_json(value))


def test_long_strings_and_big_integers_are_cut():
    echoed = safe_json("x" * 1_000_000)
    assert echoed == "x" * MAX_ECHO_CHARS + "…"
    big = safe_json(10**4000)
    assert isinstance(big, str) and big.startswith("1000") and len(big) == MAX_ECHO_CHARS + 1


def test_containers_keep_a_few_items_and_levels():
    echoed = safe_json({"many": list(range(1000)), "deep": [[[["bottom"]]]], "\ud800": math.nan})
    assert echoed["many"][:MAX_ITEMS] == list(range(MAX_ITEMS))
    assert echoed["many"][-1] == f"… {1000 - MAX_ITEMS} more"
    assert echoed["deep"] == [["…"]]
    assert echoed["\\ud800"] == "NaN"
    strict_json(echoed)
    wide = safe_json({str(number): number for number in range(100)})
    assert len(wide) == MAX_ITEMS + 1 and wide["…"] == f"{100 - MAX_ITEMS} more"


def test_an_error_keeps_type_loc_and_msg_and_makes_input_and_ctx_safe():
    error = {
        "type": "extra_forbidden",
        "loc": ("body", "\ud800" * 500, 3),
        "msg": "Extra inputs are not permitted",
        "input": math.inf,
        "ctx": {"error": ValueError("bad \ud800"), "limit": math.nan},
        "url": "https://errors.pydantic.dev/2/v/extra_forbidden",
    }
    safe = safe_error(error)
    assert set(safe) == {"type", "loc", "msg", "input", "ctx"}
    assert safe["type"] == "extra_forbidden" and safe["msg"] == "Extra inputs are not permitted"
    assert safe["loc"][0] == "body" and safe["loc"][2] == 3
    assert safe["loc"][1].startswith("\\ud800") and safe["loc"][1].endswith("…")
    assert safe["input"] == "Infinity"
    assert safe["ctx"] == {"error": "bad \\ud800", "limit": "NaN"}
    strict_json(safe)


def test_only_the_first_errors_are_answered():
    errors = [{"type": "string_type", "loc": ("body", "links", n), "msg": "bad", "input": n} for n in range(10_000)]
    assert len(safe_errors(errors)) == MAX_ERRORS


def test_safe_text_escapes_after_cutting():
    assert safe_text("\ud800" * 3, limit=2) == "\\ud800\\ud800…"
