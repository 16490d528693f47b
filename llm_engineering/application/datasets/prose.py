"""Prose and code in crawled text: code (fenced blocks, code-shaped lines) and page chrome blanked out.

Key phrases are taken from the prose only, and a sample whose extract is mostly code is told apart by
its code share.
"""

from __future__ import annotations

import re
from collections import Counter

from llm_engineering.application.datasets.vocabulary import is_glued, word_set, words

_FENCE = re.compile(r"^[ \t]*(?:```|~~~)", re.MULTILINE)
# A line of code: a statement keyword, a comment, a prompt or a closing bracket first ...
_CODE_LINE = re.compile(
    r"^(?:(?:def|class|import|return|raise|elif|except|pip)\b|else:|try:|print\(|from\s+\S+\s+import\b"
    r"|for\s+\w+(?:,\s*\w+)*\s+in\s|if\s|with\s.*:$|@\w|#|>>>|\$\s|[}\])'\"])"
)
_CODE_SYMBOLS = frozenset("=(){}[]<>;_\\|`$@")  # ... or dense in these (a call, an assignment, a literal)
_NOTICE_WORDS = word_set(
    "subscribe subscribed subscriber subscribers subscription unsubscribe substack paywall privacy cookie cookies "
    "facebook twitter membership newsletter"
)
_COMMENT = re.compile(r"(?:^|\s)#\s+([A-Za-z][^#]*)$")
_SENTENCE_PIECE = re.compile(r"[^.!?\n]+[.!?]*")


def prose(text: str, document: str | None = None, comments: bool = False) -> str:
    """Text with code (fenced blocks, code-shaped lines) and chrome (glued menus, short notices) blanked to
    line breaks.

    With the document text comes from, a text that starts inside a fenced block is known to. comments:
    a code line's "# comment" stays, as the English it is.
    """
    lines = []
    for line, is_code in _lines(text, document):
        if is_code:
            comment = _COMMENT.search(line) if comments else None
            line = comment.group(1) if comment else ""
        lines.append(_SENTENCE_PIECE.sub(_unless_chrome, line))
    return "\n".join(lines)


def code_share(text: str, document: str | None = None) -> float:
    """The share of text's words that are code (see `prose`), 0.0 for a text without words."""
    counts: Counter[bool] = Counter()
    for line, is_code in _lines(text, document):
        counts[is_code] += len(words(line))
    total = counts[True] + counts[False]
    return counts[True] / total if total else 0.0


def _lines(text: str, document: str | None) -> list[tuple[str, bool]]:
    """The lines of text, each with whether it is code; fence lines count as code."""
    position = document.find(text) if document else -1
    in_code = position > 0 and len(_FENCE.findall(document or "", 0, position)) % 2 == 1
    lines = []
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_code = not in_code
            lines.append((line, True))
        else:
            stripped = line.strip()
            lines.append((line, in_code or bool(_CODE_LINE.match(stripped)) or _symbol_dense(stripped)))
    return lines


def _symbol_dense(line: str) -> bool:
    symbols = sum(char in _CODE_SYMBOLS for char in line.replace("[URL]", ""))
    return symbols >= 3 and symbols >= 0.04 * len(line)


def _unless_chrome(piece: re.Match[str]) -> str:
    # Crawled pages glue their menus and recommendation lists into one run ("Sign upSign inWriteSign up")
    # and close with notices ("Substack is the home for great culture").
    tokens = words(piece.group())
    glued = sum(is_glued(word) for word in tokens)
    notice = len(tokens) <= 12 and bool(_NOTICE_WORDS & {token.lower() for token in tokens})
    if glued >= 3 or (glued == 2 and glued * 5 >= len(tokens)) or notice:
        return "\n"
    return piece.group()
