"""Tolerant parsing of a teacher LLM's JSON output into instruction-answer pairs and preference triples.

The book asks for `{"instruction_answer_pairs": [...]}` / `{"preference_triples": [...]}` in JSON mode;
its repository asks for a top-level list. Teachers without JSON mode wrap the JSON in prose or markdown
fences, leave trailing commas, or stop mid-list at the token limit. This module recovers every valid
item it can and says why when nothing is usable, instead of failing the whole batch as the book does.

`find_verbatim` checks the book's rule that an extracted (chosen) answer is a verbatim copy of the
extract, and returns its span for the sample's provenance.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

T = TypeVar("T")


class ParseFailure(StrEnum):
    """Why a teacher's reply gave no usable item."""

    NO_JSON = "no_json"  # no `{` or `[` at all
    INVALID_JSON = "invalid_json"  # brackets, but nothing that parses
    WRONG_SCHEMA = "wrong_schema"  # JSON of another shape, or only invalid items
    EMPTY = "empty"  # the expected list, but empty


@dataclass(frozen=True)
class ParseResult(Generic[T]):
    """The validated items, how many items were dropped, and the failure reason when `items` is empty.

    `truncated` says the JSON was cut off (token limit) and closed after its last complete element.
    """

    items: list[T] = field(default_factory=list)
    invalid_items: int = 0
    failure: str | None = None
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.items)


class _JSONExtractionError(ValueError):
    """No JSON value could be read from a text; `reason` is a `ParseFailure`. Internal: the parse functions
    turn it into a `ParseResult.failure`; callers of `extract_json` catch `ValueError`."""

    def __init__(self, reason: ParseFailure, message: str):
        super().__init__(message)
        self.reason = reason


class _Item(BaseModel):
    model_config = ConfigDict(frozen=True, str_strip_whitespace=True, str_min_length=1)


class InstructionAnswer(_Item):
    instruction: str
    answer: str


class PreferenceTriple(_Item):
    """The book's triple: `generated_answer` becomes the rejected answer, `extracted_answer` the chosen one."""

    instruction: str
    generated_answer: str
    extracted_answer: str


# --- JSON extraction --------------------------------------------------------------------------------------
_FENCE = re.compile(r"```[\w+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_OPENERS = {"{": "}", "[": "]"}


def extract_json(text: str) -> object:
    """The JSON value in a model's reply: the whole text, the content of a markdown fence, or the longest
    balanced `{...}`/`[...]` region that parses (prose around it ignored). Trailing commas are tolerated.

    Raises a `ValueError` whose `reason` attribute is `no_json` or `invalid_json`.
    """
    value, _ = _extract(text)
    return value


def _extract(text: str) -> tuple[object, bool]:
    """(value, truncated): like `extract_json`, and whether an unclosed value had to be closed."""
    if not text or not text.strip():
        raise _JSONExtractionError(ParseFailure.NO_JSON, "the reply is empty")
    whole = _loads(text.strip())
    if whole is not _MISSING:
        return whole, False
    for fence in _FENCE.finditer(text):
        value = _loads(fence.group(1).strip())
        if isinstance(value, dict | list):
            return value, False
    # Prose around the JSON (fences included): read the bracketed regions of the whole reply.
    regions, repaired = _balanced_regions(text)
    parsed = [(len(region), value, False) for region in regions if (value := _loads(region)) is not _MISSING]
    if repaired is not None and (value := _loads(repaired)) is not _MISSING:
        parsed.append((len(repaired), value, True))
    if parsed:
        # The payload is the largest region; short ones are prose like "[1]" or "(see [note])".
        _, value, truncated = max(parsed, key=lambda entry: entry[0])
        return value, truncated
    if _OPENER.search(text) is None:
        raise _JSONExtractionError(ParseFailure.NO_JSON, "the reply holds no JSON object or list")
    raise _JSONExtractionError(ParseFailure.INVALID_JSON, "the reply's JSON does not parse")


_MISSING = object()
_TRAILING_COMMA_END = re.compile(r"\s*[}\]]")
_OPENER = re.compile(r"[\[{]")
# Rescans after an unclosed or mismatched region; bounds the work on pathological replies ("[[[[...").
_MAX_RESTARTS = 50


def _loads(text: str) -> object:
    """`json.loads`, retried without trailing commas; `_MISSING` when neither parses."""
    if not text:
        return _MISSING
    for attempt in (text, _strip_trailing_commas(text)):
        try:
            return json.loads(attempt)
        except ValueError:
            continue
    return _MISSING


def _strip_trailing_commas(text: str) -> str:
    """Drop commas that directly precede `}` or `]`, outside strings."""
    out: list[str] = []
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if char == '"' and not escaped:
                in_string = False
            escaped = char == "\\" and not escaped
        elif char == '"':
            in_string = True
        elif char == "," and _TRAILING_COMMA_END.match(text, index + 1):
            continue
        out.append(char)
    return "".join(out)


def _balanced_regions(text: str) -> tuple[list[str], str | None]:
    """The top-level balanced `{...}`/`[...]` regions of a text, in order, and the first region left open
    at the end of the text, cut after its last complete element and closed (None when there is none)."""
    regions: list[str] = []
    repaired: str | None = None
    position, restarts = 0, 0
    while (opener := _OPENER.search(text, position)) is not None:
        start = opener.start()
        end, closed_copy = _scan_region(text, start)
        if end is not None:
            regions.append(text[start:end])
            position = end
            continue
        if repaired is None:
            repaired = closed_copy
        restarts += 1
        if restarts > _MAX_RESTARTS:
            break
        # Not a region (mismatched or unclosed): an inner one may still be.
        position = start + 1
    return regions, repaired


def _scan_region(text: str, start: int) -> tuple[int | None, str | None]:
    """From the bracket at `start`: (end, None) when it closes at `end` (exclusive); (None, closed copy)
    when the text ends first; (None, None) on a mismatched bracket or when nothing inside is complete."""
    stack = [_OPENERS[text[start]]]
    # Where an unclosed region can be cut: after the last closed inner value, with what was still open.
    cut: tuple[int, list[str]] | None = None
    in_string = escaped = False
    for index in range(start + 1, len(text)):
        char = text[index]
        if in_string:
            if char == '"' and not escaped:
                in_string = False
            escaped = char == "\\" and not escaped
        elif char == '"':
            in_string = True
        elif char in _OPENERS:
            stack.append(_OPENERS[char])
        elif char in ("}", "]"):
            if char != stack[-1]:
                return None, None
            stack.pop()
            if not stack:
                return index + 1, None
            cut = (index + 1, list(stack))
    if cut is None:
        return None, None
    end, still_open = cut
    return None, text[start:end] + "".join(reversed(still_open))


# --- Teacher replies --------------------------------------------------------------------------------------
def parse_instruction_pairs(text: str) -> ParseResult[InstructionAnswer]:
    """Instruction-answer pairs from a teacher's reply: `{"instruction_answer_pairs": [...]}` (the book),
    a top-level list (the book's repository), `{"pairs": [...]}` or one `{"instruction", "answer"}` object.
    Items need non-blank `instruction` and `answer` (or `output`) strings; the others are counted."""
    return _parse(text, ("instruction_answer_pairs", "pairs"), _instruction_pair)


def parse_preference_triples(text: str) -> ParseResult[PreferenceTriple]:
    """Preference triples from a teacher's reply: `{"preference_triples": [...]}` (the book), a top-level
    list or `{"triples": [...]}`; items hold `instruction`, `generated_answer` (or `rejected`) and
    `extracted_answer` (or `chosen`)."""
    return _parse(text, ("preference_triples", "triples"), _preference_triple)


def _instruction_pair(item: Mapping[str, Any]) -> InstructionAnswer:
    return InstructionAnswer(instruction=item.get("instruction"), answer=_first(item, "answer", "output"))


def _preference_triple(item: Mapping[str, Any]) -> PreferenceTriple:
    return PreferenceTriple(
        instruction=_first(item, "instruction", "prompt"),
        generated_answer=_first(item, "generated_answer", "rejected"),
        extracted_answer=_first(item, "extracted_answer", "chosen"),
    )


def _first(item: Mapping[str, Any], *keys: str) -> Any:
    return next((item[key] for key in keys if item.get(key) is not None), None)


def _parse(text: str, list_keys: tuple[str, ...], build: Callable[[Mapping[str, Any]], T]) -> ParseResult[T]:
    try:
        value, truncated = _extract(text)
    except _JSONExtractionError as error:
        return ParseResult(failure=error.reason.value)
    raw_items = _raw_items(value, list_keys)
    if raw_items is None:
        return ParseResult(failure=ParseFailure.WRONG_SCHEMA.value, truncated=truncated)
    if not raw_items:
        return ParseResult(failure=ParseFailure.EMPTY.value, truncated=truncated)
    items: list[T] = []
    for raw in raw_items:
        if not isinstance(raw, Mapping):
            continue
        try:
            items.append(build(raw))
        except ValidationError:
            continue
    return ParseResult(
        items=items,
        invalid_items=len(raw_items) - len(items),
        failure=None if items else ParseFailure.WRONG_SCHEMA.value,
        truncated=truncated,
    )


def _raw_items(value: object, list_keys: tuple[str, ...]) -> list[Any] | None:
    """The list of candidate items in a parsed reply, or None when it has none of the accepted shapes."""
    if isinstance(value, list):
        return value
    if not isinstance(value, dict):
        return None
    for key in list_keys:
        if key in value:
            inner = value[key]
            return inner if isinstance(inner, list) else [inner] if isinstance(inner, dict) else None
    if "instruction" in value or "prompt" in value:
        return [value]
    # {"anything": [...]}: the only value is the list (a teacher that renamed the key).
    if len(value) == 1:
        (inner,) = value.values()
        if isinstance(inner, list) and all(isinstance(item, dict) for item in inner):
            return inner
    return None


# --- Verbatim check ---------------------------------------------------------------------------------------
# Typographic single and double quotes (as escapes: the characters look like straight quotes).
_TYPOGRAPHIC = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f", '"'),
    }
)


def find_verbatim(quote: str, source: str) -> tuple[int, int] | None:
    """The `(start, end)` span of `quote` in `source`, ignoring differences in whitespace runs and
    typographic versus straight quotes; None when the quote is blank or not in the source."""
    needle = " ".join(quote.translate(_TYPOGRAPHIC).split())
    if not needle:
        return None
    normalized, positions = _normalize_with_positions(source.translate(_TYPOGRAPHIC))
    found = normalized.find(needle)
    if found < 0:
        return None
    return positions[found], positions[found + len(needle) - 1] + 1


def _normalize_with_positions(text: str) -> tuple[str, list[int]]:
    """The text with each whitespace run as one space, and the original index of each kept character."""
    chars: list[str] = []
    positions: list[int] = []
    previous_space = False
    for index, char in enumerate(text):
        if char.isspace():
            if not previous_space:
                chars.append(" ")
                positions.append(index)
            previous_space = True
        else:
            chars.append(char)
            positions.append(index)
            previous_space = False
    return "".join(chars), positions
