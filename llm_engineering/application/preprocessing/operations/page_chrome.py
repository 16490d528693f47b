"""Platform chrome in stored pages: what the site wrapped around the author's words.

Pages stored by the book's crawler (the handbook backup) and by ours keep the platform's furniture:
Medium's "Open in app / Sign up / Sign in", bylines ("·Follow·16 min read·Listen·Share"), clap and
response counters, "Member-only story", the sign-up promo and "Written by ... Followers" at the end;
Substack's "SubscribeSign in", "Share this post" cards, like counters, the comments and the footer;
LinkedIn's "Like / Comment / Repost / Send" and "...see more". None of it is the author's writing, and
it leaks into chunks, prompts and answers.

The rules are conservative, on whole paragraphs (what the cleaner splits on) and a few glued segments:
- a paragraph is *chrome* when all of it is a known chrome string ("Share", "Sign in", "5 min read");
- a paragraph is *weak* when it is chrome only next to chrome (a bare counter "14", a date, "Facebook",
  "Email", "Note", a bare host name): a run of weak and chrome paragraphs goes when it holds chrome, so
  "Note" or "1" in the middle of an article stays;
- a *tail marker* ("Discussion about this post", Medium's "Sign up to discover human stories") starts
  the page's footer: it and everything after it go (comments by readers are not the author's words);
- pages stored as one run-on line (Medium in the book's backup: "Decoding MLOpen in appSign upSign in")
  lose the glued header, byline and footer segments, matched by their exact shapes.
An author's sentence that merely contains "share", "follow" or "sign up" is never touched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum

# Whole paragraphs that are chrome wherever they stand (compared lowercased, spaces collapsed).
_CHROME_PARAGRAPHS = frozenset(
    {
        "open in app",
        "sign up",
        "sign in",
        "sign up sign in",
        "sign in sign up",
        "subscribesign in",
        "subscribe sign in",
        "subscribe",
        "follow",
        "following",
        "listen",
        "share",
        "share this post",
        "copy link",
        "member-only story",
        "top highlight",
        "previousnext",
        "ready for more?",
        "start writingget the app",
        "get the app",
        "substack is the home for great culture",
        "privacy ∙ terms ∙ collection notice",
        "this site requires javascript to run correctly. please turn on javascript or unblock scripts",
        (
            "to make medium work, we log user data. by using medium, you agree to our privacy policy, including "
            "cookie policy."
        ),
        "expand full comment",
        "restacks",
        "no posts",
        "upgrade to paid",
        "report this post",
        "see more",
        "...see more",
        "see translation",
        "activate to view larger image",
        "like comment repost send",
        "reply share",
        "replyshare",
    }
)
_CHROME_PATTERNS = (
    # A byline's follow button: "Paul Iusztin · Follow"
    re.compile(r"^[^\n·]{1,60}·\s*Follow(?:ing)?$"),
    # "16 min read", "Published in Decoding ML · 16 min read · Mar 16, 2024"
    re.compile(r"^(?:[^\n]{0,80}·\s*)?\d{1,3}\s*min read(?:\s*·[^\n]{0,40})?$", re.IGNORECASE),
    # Counters with their unit: "12 comments", "5.1K Followers", "1 more comment...", "1 reply by Paul Iusztin"
    re.compile(
        r"^[\d.,]+[KM]?\s*(?:likes?|comments?|reactions?|restacks?|responses?|claps?|followers|reposts?)$",
        re.IGNORECASE,
    ),
    re.compile(r"^\d+ more comments?\.*$", re.IGNORECASE),
    re.compile(r"^\d+ repl(?:y|ies) by [^\n]{1,60}$", re.IGNORECASE),
    # Medium's membership promo, as the book's corpus stores it under imported articles.
    re.compile(r"^join medium with my referral link\b", re.IGNORECASE),
    re.compile(r"^[^\n]{0,120}\bbecome a medium member\b[^\n]{0,20}$", re.IGNORECASE),
    # Site footers: "© 2024 Paul Iusztin", "Copyright 2023, Maxime Labonne" (html2text writes icons as "__").
    re.compile(r"^(?:__\s*)?(?:©\s*|copyright\s+)(?:19|20)\d{2}\b[^\n]{0,80}$", re.IGNORECASE),
    # A navigation bar of icon links: every line a list item that starts or ends with an icon ("- __About").
    re.compile(r"^(?:- __[^\n]*|- [^\n]* __)(?:\n(?:- __[^\n]*|- [^\n]* __))*$"),
)
# Chrome only beside chrome: share targets, feed headings, buttons, counters, dates, host names.
_WEAK_PARAGRAPHS = frozenset(
    {
        "facebook",
        "email",
        "note",
        "other",
        "top",
        "latest",
        "discussions",
        "comments",
        "write",
        "like",
        "comment",
        "repost",
        "send",
        "reply",
        "previous",
        "next",
        "x",
        "linkedin",
        "twitter",
        "reddit",
        "threads",
        "published in",
        "more",
    }
)
_COUNTER = re.compile(r"^[\d.,]+[KkM]?$")
_DATE = re.compile(r"^(?:[A-Z][a-z]{2,8}\.? \d{1,2}(?:, \d{4})?|\d{1,2} [A-Z][a-z]{2,8}\.? \d{4}|\d{4}-\d{2}-\d{2})$")
_HOST = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z]{2,}$")
_FOOTER_COPYRIGHT = re.compile(r"^(?:©\s*)?(?:19|20)\d{2} [A-Z][\w'.-]+(?: [A-Z][\w'.-]+){0,3}$")
_PERSON = re.compile(r"^[A-Z][\w'.-]+(?: [A-Z][\w'.-]+){1,3}$")

# Paragraphs that open the page's footer: they and everything after them go.
_TAIL_PARAGRAPHS = frozenset({"discussion about this post"})
# The same footers glued into a run-on line; the text is cut where the first one starts.
_GLUED_TAIL = re.compile(
    r"Sign up to discover human stories that deepen your understanding of the world"
    r"|Recommended from Medium"
    r"|(?:Follow)?Written by [^\n]{1,60}?[\d.,]+K? Followers"
    r"|See more recommendations"
    r"|HelpStatusAboutCareersPress"
)
# Medium's header glued to the page title: "Title | Decoding MLOpen in appSign upSign inWriteSign upSign in".
_GLUED_HEAD = re.compile(r"^[^\n]{0,250}?Open in app\s*(?:(?:Sign up|Sign in|Write)\s*)+")
_GLUED_LEAD_LABEL = re.compile(r"^\s*(?:Top highlight|Member-only story)\s*")
# Medium's byline: "Paul Iusztin·FollowPublished inDecoding ML·16 min read·Mar 16, 20242.1K13ListenShare".
_GLUED_BYLINE = re.compile(
    r"(?:[A-Z][\w'.-]*(?: [A-Z][\w'.-]*){0,3})?\s*·\s*Follow\s*(?:·\s*)?"
    r"(?:Published in\s*[^·\n]{1,80}?\s*·\s*)?"
    r"\d{1,3}\s*min read\s*·\s*[A-Z][a-z]{2} \d{1,2}(?:, \d{4})?[\d.,K]*\s*(?:--\s*)?\d*\s*"
    r"(?:Listen\s*)?(?:Share\s*)?"
)

# What the bench and the tests look for: strings that only chrome writes.
CHROME_MARKERS = re.compile(
    r"Sign in|Sign up|Open in app|Member-only story|\b\d{1,3} min read\b|Share this post|Copy link"
    r"|Discussion about this post|Top highlight|Get the app|Substack is the home|ListenShare|SubscribeSign"
    r"|This site requires JavaScript|[\d.]+K? Followers\b"
)


class Chrome(Enum):
    """How a paragraph counts: the author's (KEEP), chrome anywhere (CHROME), chrome beside chrome (WEAK)."""

    KEEP = "keep"
    CHROME = "chrome"
    WEAK = "weak"


def _key(paragraph: str) -> str:
    return " ".join(paragraph.split()).lower()


def classify(paragraph: str, previous: str | None = None, following: str | None = None) -> Chrome:
    """Whether one cleaned paragraph is chrome, weak (chrome only next to chrome) or the author's."""
    text = " ".join(paragraph.split())
    key = text.lower()
    if key in _CHROME_PARAGRAPHS or any(pattern.match(text) for pattern in _CHROME_PATTERNS):
        return Chrome.CHROME
    if key in _WEAK_PARAGRAPHS or _COUNTER.match(text) or _DATE.match(text) or _HOST.match(text):
        return Chrome.WEAK
    if _FOOTER_COPYRIGHT.match(text):
        return Chrome.WEAK
    # A byline (the author's name over the date) or a publication's name over its sign-in bar.
    if (
        following is not None
        and _PERSON.match(text)
        and (_DATE.match(" ".join(following.split())) or _key(following) in _CHROME_PARAGRAPHS)
    ):
        return Chrome.WEAK
    # Substack's share card repeats the title between "Share this post" and the host name.
    if (
        previous is not None
        and following is not None
        and _key(previous) == "share this post"
        and (_HOST.match(following.strip()) or _key(following) == "copy link")
    ):
        return Chrome.CHROME
    return Chrome.KEEP


def strip_glued_chrome(paragraph: str) -> tuple[str, bool]:
    """A prose paragraph without the chrome glued into it, and whether a footer (tail) was cut off.

    Only pages stored as one run-on line carry these; a normal paragraph comes back unchanged.
    """
    text = paragraph
    head = _GLUED_HEAD.match(text)
    if head:
        text = text[head.end() :]
        text = _GLUED_LEAD_LABEL.sub("", text, count=1)
    text = _GLUED_BYLINE.sub("\n\n", text)
    tail = _GLUED_TAIL.search(text)
    if tail:
        text = text[: tail.start()]
    return text.strip(), tail is not None


def remove_chrome(pieces: Sequence[tuple[bool, str]]) -> list[tuple[bool, str]]:
    """(is_code, paragraph) pieces without platform chrome (see the module's rules); code is never touched.

    A paragraph whose glued chrome leaves several parts (a byline between two sentences) is split there.
    """
    prose: list[tuple[bool, str]] = []
    for is_code, piece in pieces:
        if is_code:
            prose.append((True, piece))
            continue
        if _key(piece) in _TAIL_PARAGRAPHS:
            break
        stripped, cut = strip_glued_chrome(piece)
        prose.extend((False, part.strip()) for part in stripped.split("\n\n") if part.strip())
        if cut:
            break
    kinds = [
        Chrome.KEEP
        if is_code
        else classify(
            text,
            prose[index - 1][1] if index > 0 and not prose[index - 1][0] else None,
            prose[index + 1][1] if index + 1 < len(prose) and not prose[index + 1][0] else None,
        )
        for index, (is_code, text) in enumerate(prose)
    ]
    kept: list[tuple[bool, str]] = []
    run: list[int] = []

    def flush() -> None:
        # A run of weak paragraphs is chrome only when it touches chrome.
        if run and not any(kinds[index] is Chrome.CHROME for index in run):
            kept.extend(prose[index] for index in run)
        run.clear()

    for index, kind in enumerate(kinds):
        if kind is Chrome.KEEP:
            flush()
            kept.append(prose[index])
        else:
            run.append(index)
    flush()
    return kept


def chrome_markers(text: str) -> list[str]:
    """The chrome marker strings found in `text` (empty for clean text): what the bench counts."""
    return [match.group(0) for match in CHROME_MARKERS.finditer(text)]
