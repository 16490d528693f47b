"""A stored page's title and description, told apart from what its body already says.

Crawlers store the page `<title>` (often decorated: "Title - by Author", "Site - Title", "Title | Site")
and the meta description as the article's title and subtitle, and the body repeats both: as its first
heading and paragraph, or glued into a run-on first line (Medium pages in the book's backup). Leading
the cleaned text with both and keeping the body's copies put the description twice at the start of
the first chunk, and an answer opened with it. These rules work on cleaned text (see `cleaning`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Where a page title joins the article's title to the site's or the author's name.
_TITLE_SEPARATORS = re.compile(r"\s+(?:\||-|—|·|::)\s+")
_ELLIPSIS = re.compile(r"(?:\.\.\.|…)\s*$")
# How much of the body counts as its head (where a page repeats its title and description).
HEAD_CHARS = 3000
MIN_LEAD_WORDS = 3


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()


def _head_paragraphs(body: str) -> list[str]:
    return [_normal(paragraph) for paragraph in body[:HEAD_CHARS].split("\n\n") if paragraph.strip()]


def article_title(page_title: str, body: str, author: str | None = None) -> str:
    """The article's own title: the part of a decorated page title that the body's head repeats as a
    paragraph (its heading), else the page title without a " - by <author>" suffix, else unchanged."""
    title = page_title.strip()
    if not title:
        return title
    head = set(_head_paragraphs(body))
    if _normal(title) in head:
        return title
    parts = [part.strip() for part in _TITLE_SEPARATORS.split(title) if len(part.split()) >= 2]
    for part in sorted(parts, key=len, reverse=True):
        if _normal(part) in head:
            return part
    if author:
        suffix = re.compile(rf"\s+[-|—]\s+by\s+{re.escape(author.strip())}\s*$", re.IGNORECASE)
        return suffix.sub("", title) or title
    return title


def is_repeated_description(description: str, body: str, title: str | None = None) -> bool:
    """Whether a page's description only repeats its title or body: found in the body as it is, or cut
    short with an ellipsis at the start of a body paragraph."""
    stem = _normal(_ELLIPSIS.sub("", description))
    if not stem:
        return True
    if title is not None and stem == _normal(title):
        return True
    return len(stem.split()) >= MIN_LEAD_WORDS and stem in _normal(body)


def unglue_leads(body: str, leads: Sequence[str]) -> str:
    """`body` with each lead text (title, description) found glued into a run-on line of its head set
    apart as its own paragraph, so that duplicate removal sees it as the repeat it is.

    Only an occurrence stuck to the text around it ("ReplicaAn End-to-End ... TwinFrom") is split off;
    a title quoted inside a normal sentence is left alone.
    """
    for lead in leads:
        lead = lead.strip()
        if len(lead.split()) < MIN_LEAD_WORDS:
            continue
        start = body.find(lead, 0, HEAD_CHARS)
        if start < 0:
            continue
        end = start + len(lead)
        glued_before = start > 0 and not body[start - 1].isspace()
        glued_after = end < len(body) and body[end].isalnum()
        if glued_before or glued_after:
            body = f"{body[:start].rstrip()}\n\n{lead}\n\n{body[end:].lstrip()}".strip()
    return body
