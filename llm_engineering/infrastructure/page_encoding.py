"""Bytes of an HTML page to text, checking that the charset a server or page declares fits the bytes.

Order, as browsers do (WHATWG "encoding sniffing"): a byte-order mark, the `Content-Type` header's charset,
the page's `<meta charset>` (or `http-equiv` content type), then UTF-8, then detection (charset-normalizer).
Unlike a browser, a declared charset is only used when the bytes decode under it strictly and the text is
plausible: a server that says `charset=utf-16` but sends Latin-1 bytes would otherwise store CJK mojibake.
When no candidate fits, `decode_html` raises `CrawlError(BAD_ENCODING)`: no text beats wrong text.

Pure functions (bytes and a header in, text out); charset-normalizer is imported only when detection runs.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.exceptions import CrawlError

Source = Literal["bom", "header", "meta", "utf-8", "detected"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts with UTF-16 LE's
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Web labels whose meaning differs from Python's codec of the same name (WHATWG Encoding Standard):
# "latin1"/"ascii" pages are read as windows-1252, UTF-16 without a BOM is little-endian, gb2312 is GBK.
_WEB_CODECS = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "utf-16": "utf-16-le",
    "utf-32": "utf-32-le",
    "gb2312": "gbk",
}
_UNICODE_WIDE = ("utf-16", "utf-32")
_CHARSET_PARAM = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:()+-]+)", re.IGNORECASE)
# `<meta charset="x">` and `<meta http-equiv="Content-Type" content="text/html; charset=x">`, in ASCII bytes.
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([\w.:()+-]+)", re.IGNORECASE)
_META_PRESCAN_BYTES = 4096  # browsers look for the meta tag in the first 1024 bytes; pages with long heads exist
_MARKUP = r"<(?:!doctype|html|head|body|meta|title|div|p|a|span|article|main|section|h[1-6])[\s>/]"
_MARKUP_BYTES = re.compile(_MARKUP.encode(), re.IGNORECASE)
_MARKUP_TEXT = re.compile(_MARKUP, re.IGNORECASE)
_CP1252_UNDEFINED = re.compile(rb"([\x81\x8d\x8f\x90\x9d])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")  # C0 (but tab, newlines, form feed), DEL, C1
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# A decoding whose text has more control characters than this share is wrong (binary, or UTF-16 read as 8-bit).
MAX_CONTROL_SHARE = 0.01
# Invalid sequences tolerated in a UTF-8 page, per valid non-ASCII character: one stray Latin-1 byte in a
# UTF-8 page is a typo, while a Latin-1 page has no valid multi-byte sequence at all.
MAX_UTF8_ERRORS_PER_CHAR = 0.02
# Detection's candidates that are about as clean as its best; windows-1252 among them wins, as the web's
# legacy default (charset-normalizer otherwise picks e.g. cp1257 for short French text).
DETECTION_CHAOS_MARGIN = 0.05


@dataclass(frozen=True)
class DecodedHtml:
    """The page's text, the Python codec that produced it, where that choice came from, and the
    declarations that were refused on the way (`"header charset utf-16: ..."`), for the log."""

    text: str
    encoding: str
    source: Source
    rejected: tuple[str, ...] = ()


def decode_html(body: bytes, content_type: str = "") -> DecodedHtml:
    """Decode an HTML body as its BOM, header charset, `<meta>` charset, UTF-8 or detected charset says,
    taking the first that decodes strictly and reads as plausible text.

    Raises `CrawlError(BAD_ENCODING)`, naming each refused candidate, when none does.
    """
    rejected: list[str] = []
    tried: set[str] = set()
    for candidate in [*_declared(body, content_type, rejected), _Candidate("utf-8", "utf-8", "utf-8")]:
        if candidate.encoding in tried:
            continue
        tried.add(candidate.encoding)
        text, problem = _try(body, candidate.encoding, declared=candidate.source in ("header", "meta"))
        if problem is None:
            # A BOM decoded by a UTF-16/32 codec stays in the text as U+FEFF; it is no character of the page.
            return DecodedHtml(text.removeprefix("\ufeff"), candidate.encoding, candidate.source, tuple(rejected))
        rejected.append(f"{candidate.describe()}: {problem}")
    detected = _detect(body)
    if detected is not None and detected not in tried:
        text, problem = _try(body, detected, declared=False)
        if problem is None:
            return DecodedHtml(text, detected, "detected", tuple(rejected))
        rejected.append(f"detected charset {detected}: {problem}")
    else:
        rejected.append("detection: no other charset fits the bytes")
    raise CrawlError(CrawlErrorKind.BAD_ENCODING, "the page's bytes fit no charset (" + "; ".join(rejected) + ")")


def header_charset(content_type: str) -> str | None:
    """The `charset` parameter of a `Content-Type` header value, None when there is none."""
    match = _CHARSET_PARAM.search(content_type or "")
    return match.group(1) if match else None


def meta_charset(body: bytes) -> str | None:
    """The charset a `<meta>` tag declares in the first bytes of the page, None when none does."""
    match = _META_CHARSET.search(body[:_META_PRESCAN_BYTES])
    return match.group(1).decode("ascii", "replace") if match else None


def web_codec(label: str) -> str | None:
    """The Python codec for a charset label as browsers read it (`latin1` -> cp1252), None when unknown."""
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _WEB_CODECS.get(name, name)


class _Candidate(NamedTuple):
    encoding: str  # the Python codec
    source: Source
    label: str  # as declared, for messages

    def describe(self) -> str:
        return "utf-8" if self.source == "utf-8" else f"{self.source} charset {self.label}"


def _declared(body: bytes, content_type: str, rejected: list[str]) -> list[_Candidate]:
    """Candidates from the BOM, the header and the meta tag, in that order; a BOM decides alone, since it
    cannot be there by accident. Unknown labels are noted in `rejected`."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return [_Candidate(encoding, "bom", encoding)]
    candidates: list[_Candidate] = []
    declarations: tuple[tuple[str | None, Source], ...] = (
        (header_charset(content_type), "header"),
        (meta_charset(body), "meta"),
    )
    for label, source in declarations:
        if label is None:
            continue
        encoding = web_codec(label)
        if encoding is None:
            rejected.append(f"{source} charset {label}: unknown charset")
        elif source == "meta" and encoding.startswith(_UNICODE_WIDE):
            # A meta tag readable as ASCII cannot sit in a UTF-16 page: browsers read such pages as UTF-8.
            candidates.append(_Candidate("utf-8", source, label))
        else:
            candidates.append(_Candidate(encoding, source, label))
    return candidates


def _try(body: bytes, encoding: str, *, declared: bool) -> tuple[str, str | None]:
    """(text, None) when `body` decodes under `encoding` into plausible text, else ("", the problem)."""
    if encoding == "utf-8":
        return _try_utf8(body)
    if declared and _is_non_ascii_utf8(body):
        return "", "the bytes are valid UTF-8 with non-ASCII text"
    try:
        text = _decode_cp1252(body) if encoding == "cp1252" else body.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        return "", _decode_problem(error)
    return text, implausibility(text, body)


def _try_utf8(body: bytes) -> tuple[str, str | None]:
    """UTF-8, tolerating a few invalid bytes among many valid multi-byte characters (replaced by U+FFFD)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        text = body.decode("utf-8-sig", errors="replace")
        errors = text.count("\ufffd") - body.count("\ufffd".encode())
        non_ascii = len(_NON_ASCII.findall(text)) - errors
        if errors > MAX_UTF8_ERRORS_PER_CHAR * non_ascii:
            return "", _decode_problem(error) + f" ({errors} invalid sequence(s))"
    return text, implausibility(text, body)


def _decode_cp1252(body: bytes) -> str:
    # WHATWG windows-1252 maps the five bytes Python's cp1252 leaves undefined to C1 controls, as latin-1 does.
    parts = _CP1252_UNDEFINED.split(body)
    return "".join(part.decode("latin-1" if index % 2 else "cp1252") for index, part in enumerate(parts))


def _is_non_ascii_utf8(body: bytes) -> bool:
    # Text in a legacy charset is almost never valid UTF-8 once it has non-ASCII bytes; the reverse (a
    # server defaulting to "charset=iso-8859-1" for UTF-8 pages) is common, and would store "Ã©" for "é".
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def implausibility(text: str, body: bytes) -> str | None:
    """Why `text` cannot be the right decoding of `body`, None when it reads as plausible.

    Wrong when it holds more than `MAX_CONTROL_SHARE` control characters (binary, or UTF-16 read as an
    8-bit charset), or when the bytes show ASCII HTML tags that the text lost (8-bit bytes read as
    UTF-16 turn into CJK characters).
    """
    if not text:
        return None
    controls = len(_CONTROL.findall(text))
    if controls > MAX_CONTROL_SHARE * len(text):
        return f"{controls} control characters in {len(text)} ({controls / len(text):.0%})"
    if _MARKUP_BYTES.search(body) and not _MARKUP_TEXT.search(text):
        cjk = len(_CJK.findall(text))
        return f"the HTML tags in the bytes are lost in the text ({cjk / len(text):.0%} CJK characters)"
    return None


def _decode_problem(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"invalid byte(s) {error.object[error.start : error.start + 4]!r} at offset {error.start}"
    return str(error)


def _detect(body: bytes) -> str | None:
    """charset-normalizer's best guess as a Python codec name; windows-1252 when it is about as clean."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(body))
    if not matches:
        return None
    best = min(matches, key=lambda match: match.chaos)
    for match in matches:
        if match.encoding == "cp1252" and match.chaos <= best.chaos + DETECTION_CHAOS_MARGIN:
            return "cp1252"
    return web_codec(best.encoding) or best.encoding
