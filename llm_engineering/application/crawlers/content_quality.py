"""Is an extracted article worth storing? Checks on the text a crawler is about to save.

Two ways a page's text pollutes retrieval although the fetch "succeeded":
- it is mostly links or boilerplate (a link farm, a tag index, a page of navigation): each line of the
  extracted text is compared with the texts of the page's `<a>` elements; a page whose text is mostly link
  texts, or that has hardly any sentences outside them, is skipped with the figures as the reason;
- it was decoded with the wrong charset: ASCII bytes read as UTF-16 turn into CJK characters whose two
  bytes are both printable ASCII. The HTTP fetcher checks the bytes itself; a browser decodes on its own,
  so its text is checked here.

Pure functions over strings (bs4 is imported inside `link_texts`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from llm_engineering.application.errors import LowContentError
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.exceptions import CrawlError

# A text whose characters sit more than this share in lines that are link texts is mostly links.
MAX_LINK_TEXT_SHARE = 0.6
# Fewer words of prose than this is hardly any (a navigation or index page): prose is the lines that are not
# link texts and read as sentences, `MIN_SENTENCE_WORDS` words or more (not dates, bylines or tags).
MIN_PROSE_WORDS = 30
MIN_SENTENCE_WORDS = 8
# Pages with fewer link lines are not judged by their links: a short note with a "Home" link is fine.
MIN_LINK_LINES = 10
# Share of a text's non-ASCII, non-space characters that look like two ASCII bytes read as one UTF-16 unit,
# above which the text is taken as misdecoded: real Chinese or Japanese text has about a quarter to a third
# of such characters, Korean none, while Latin-1 text read as UTF-16 has 90% (each accent spoils one unit).
MAX_ASCII_PAIR_SHARE = 0.7
MIN_ASCII_PAIR_CHARACTERS = 50  # too few characters to judge below this

_MARKDOWN_PREFIX = re.compile(r"^(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s*)+")
_EMPHASIS = re.compile(r"[*_`]+")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class ContentProfile:
    """Figures on an extracted text: its words and lines, its lines that are link texts and their share of
    its characters, and its words of prose (in the other lines of `MIN_SENTENCE_WORDS` words or more)."""

    words: int
    lines: int
    link_lines: int
    link_text_share: float
    prose_words: int


def normalize_line(text: str) -> str:
    """A line or link text reduced for comparison: no markdown markers or emphasis, single spaces, casefolded."""
    text = _MARKDOWN_PREFIX.sub("", text.strip())
    return _SPACES.sub(" ", _EMPHASIS.sub("", text)).strip().casefold()


def link_texts(html: str) -> frozenset[str]:
    """The normalized texts of the `<a href>` elements of an HTML page or fragment."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    texts = (normalize_line(anchor.get_text(" ", strip=True)) for anchor in soup.find_all("a", href=True))
    return frozenset(text for text in texts if text)


def profile_text(text: str, links: Collection[str]) -> ContentProfile:
    """Measure `text` against the normalized link texts `links` (see `link_texts`)."""
    words = link_lines = link_chars = total_chars = prose_words = 0
    lines = 0
    for raw in text.splitlines():
        line = normalize_line(raw)
        if not line:
            continue
        lines += 1
        line_words = len(_WORD.findall(line))
        words += line_words
        total_chars += len(line)
        if line in links:
            link_lines += 1
            link_chars += len(line)
        elif line_words >= MIN_SENTENCE_WORDS:
            prose_words += line_words
    share = link_chars / total_chars if total_chars else 0.0
    return ContentProfile(words, lines, link_lines, round(share, 3), prose_words)


def low_content_reason(profile: ContentProfile) -> str | None:
    """Why a text with this profile is not worth storing (mostly links, hardly any prose), None when it is."""
    if profile.link_lines < MIN_LINK_LINES:
        return None
    if profile.link_text_share > MAX_LINK_TEXT_SHARE:
        return (
            f"mostly links: {profile.link_text_share:.0%} of the text is the text of links "
            f"({profile.link_lines} of {profile.lines} lines; at most {MAX_LINK_TEXT_SHARE:.0%} allowed)"
        )
    if profile.prose_words < MIN_PROSE_WORDS:
        return (
            f"hardly any prose: {profile.prose_words} words in sentences next to {profile.link_lines} link lines "
            f"(at least {MIN_PROSE_WORDS} needed)"
        )
    return None


def ascii_pair_share(text: str) -> tuple[int, float]:
    """(non-ASCII non-space characters, share of them whose UTF-16 code unit is two printable ASCII bytes)."""
    counted = pairs = 0
    for character in text:
        code = ord(character)
        if code < 0x80 or character.isspace():
            continue
        counted += 1
        high, low = divmod(code, 0x100)
        pairs += 0x20 <= high <= 0x7E and 0x20 <= low <= 0x7E
    return counted, (pairs / counted if counted else 0.0)


def misdecoding_reason(text: str) -> str | None:
    """Why `text` looks like 8-bit bytes decoded as UTF-16 (CJK mojibake), None when it does not."""
    counted, share = ascii_pair_share(text)
    if counted < MIN_ASCII_PAIR_CHARACTERS or share <= MAX_ASCII_PAIR_SHARE:
        return None
    return f"the text looks like 8-bit bytes read as UTF-16: {share:.0%} of its {counted} non-ASCII characters"


def check_article_text(html: str, text: str) -> None:
    """Refuse an extracted article that would pollute retrieval.

    `html` is the page (or the article's element) the text was extracted from. Raises
    `CrawlError(BAD_ENCODING)` when the text is misdecoded, `LowContentError` when it is mostly links.
    """
    misdecoded = misdecoding_reason(text)
    if misdecoded is not None:
        raise CrawlError(CrawlErrorKind.BAD_ENCODING, misdecoded)
    reason = low_content_reason(profile_text(text, link_texts(html)))
    if reason is not None:
        raise LowContentError(reason)
