"""Pure text cleaning rules for the feature pipeline.

Unlike the book's single regex (which erased every newline and all punctuation but `.,!?'`), these
rules keep what chunking needs: paragraph breaks survive as blank lines, sentence punctuation and
code symbols stay, and fenced code blocks keep their line structure. What goes: markup noise
(markdown emphasis, heading hashes, link targets), raw URLs (replaced by a placeholder), emojis and
pictographs, control and zero-width characters, platform chrome (`page_chrome`: sign-in bars, share
cards, bylines, counters, footers); compatibility characters are normalised (NFKC folds the
"bold/italic" unicode letters used on social media into plain letters).
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Iterable

from llm_engineering.application.preprocessing.operations.page_chrome import remove_chrome

URL_PLACEHOLDER = "[URL]"

_FENCE = re.compile(r"^(```|~~~)")
_URL = re.compile(r"(?:https?://|ftp://|www\.)[^\s<>()\[\]{}\"']+[^\s<>()\[\]{}\"'.,;:!?]", re.IGNORECASE)
# Markdown image and link syntax: keep the visible text, drop the target.
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_MD_RULE = re.compile(r"^\s*([-*_=])(\s*\1){2,}\s*$")
_MD_QUOTE = re.compile(r"^\s*(>\s?)+")
_MD_BULLET = re.compile(r"^\s*[*+•·]\s+")
# Emphasis markers around words (**bold**, __bold__, *it*, _it_); a lone `*` or `_` inside words stays.
_MD_EMPHASIS = re.compile(r"(?<![\w*_])(\*{1,3}|_{1,3})(?=\S)(.+?)(?<=\S)\1(?![\w*_])")
_LIST_ITEM = re.compile(r"^(-|\d{1,3}[.)])\s")
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# Typographic punctuation the embedding tokenizer would otherwise see as rare symbols.
_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})


def normalize_unicode(text: str) -> str:
    """NFKC-normalise, map typographic quotes/dashes to ASCII, drop emojis, control and zero-width characters.

    Letters of every script are kept (accents, CJK); only symbols of the "other symbol" class
    (emojis, pictographs, dingbats), private-use and unassigned code points, and emoji modifiers go.
    """
    text = unicodedata.normalize("NFKC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.translate(_ZERO_WIDTH).translate(_TYPOGRAPHY)
    kept = []
    for char in text:
        if char in "\n\t":
            kept.append(char)
        elif _is_emoji_modifier(char):
            continue
        elif unicodedata.category(char) == "So" or unicodedata.category(char).startswith("C"):
            # Emojis and pictographs become a space so the words on either side stay apart.
            kept.append(" ")
        else:
            kept.append(char)
    return "".join(kept)


def _is_emoji_modifier(char: str) -> bool:
    """Variation selectors and skin-tone modifiers: invisible parts of an emoji sequence."""
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF


def replace_urls(text: str, placeholder: str = URL_PLACEHOLDER) -> str:
    """Replace each raw URL by `placeholder` (URLs are noise to the embedder and leak tracking ids)."""
    return _URL.sub(placeholder, text)


def strip_markdown(line: str) -> str:
    """Remove markdown markup from one prose line, keeping its visible text."""
    line = _MD_IMAGE.sub(lambda match: match.group(1), line)
    line = _MD_LINK.sub(lambda match: match.group(1), line)
    line = _MD_HEADING.sub("", line)
    if _MD_RULE.match(line):
        return ""
    line = _MD_QUOTE.sub("", line)
    return _MD_BULLET.sub("- ", line)


def strip_emphasis(text: str) -> str:
    """Remove emphasis markers (`**bold**`, `_italic_`, nested ones too), keeping the words."""
    previous = None
    while previous != text:
        previous, text = text, _MD_EMPHASIS.sub(lambda match: match.group(2), text)
    return text


def split_blocks(text: str) -> list[tuple[bool, str]]:
    """Split text into (is_code, block) pieces: fenced code blocks (fences included) and the prose between them."""
    blocks: list[tuple[bool, str]] = []
    current: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if _FENCE.match(line.strip()):
            if in_code:
                current.append(line.strip())
                blocks.append((True, "\n".join(current)))
                current = []
            else:
                if current:
                    blocks.append((False, "\n".join(current)))
                current = [line.strip()]
            in_code = not in_code
            continue
        current.append(line)
    if current:
        # An unclosed fence still holds code: keep it as such rather than flatten it into prose.
        blocks.append((in_code, "\n".join(current)))
    return blocks


def is_indented_code(paragraph: str) -> bool:
    """Markdown's other code block form (html2text's output): every line indented by 4+ spaces or a tab."""
    lines = [line for line in paragraph.split("\n") if line.strip()]
    return bool(lines) and all(line.startswith(("    ", "\t")) for line in lines)


def clean_prose(text: str) -> list[tuple[bool, str]]:
    """Clean prose into (is_code, paragraph) pairs: markup, URLs, spacing; soft line wraps joined.

    Runs of indented code paragraphs become one fenced block (dedented), so code keeps its lines and a
    second cleaning pass sees the same code again.
    """
    paragraphs: list[tuple[bool, str]] = []
    code_run: list[str] = []

    def flush_code() -> None:
        code = clean_code(textwrap.dedent("\n\n".join(code_run)))
        if code.strip():
            paragraphs.append((True, f"```\n{code}\n```"))
        code_run.clear()

    for raw_paragraph in _BLANK_LINES.split(text):
        if is_indented_code(raw_paragraph):
            code_run.append(raw_paragraph.expandtabs(4))
            continue
        if code_run:
            flush_code()
        # Emphasis often spans soft-wrapped lines, so it is removed once the lines are joined.
        paragraph = strip_emphasis(_join_lines(strip_markdown(line) for line in raw_paragraph.split("\n")))
        if paragraph:
            paragraphs.append((False, paragraph))
    if code_run:
        flush_code()
    return paragraphs


def _join_lines(lines: Iterable[str]) -> str:
    """Join a paragraph's lines: soft wraps become spaces, list items keep their own line.

    Lines with no letter or digit (leftover separators like `- __ -`) carry nothing and are dropped.
    """
    joined = ""
    for raw in lines:
        line = _SPACES.sub(" ", raw).strip()
        if not any(char.isalnum() for char in line):
            continue
        if not joined:
            joined = line
        elif _LIST_ITEM.match(line):
            joined += "\n" + line
        else:
            joined += " " + line
    return joined


def clean_code(text: str) -> str:
    """Clean source code: keep line structure, indentation and symbols; trim trailing spaces and blank runs."""
    lines = [line.rstrip().expandtabs(4) for line in text.split("\n")]
    code = "\n".join(lines)
    code = re.sub(r"\n{3,}", "\n\n", code)
    return code.strip("\n")


def clean_text(text: str, page_chrome: bool = True) -> str:
    """Clean an article or post; paragraphs come out separated by exactly one blank line.

    Code (fenced or indented) keeps its lines and symbols; prose paragraphs repeated verbatim are kept once.
    `page_chrome=False` keeps paragraphs that look like platform chrome (for a title or a description,
    which are never a page's chrome even when they read "Follow" or "Share").
    """
    if not text:
        return ""
    text = replace_urls(normalize_unicode(text))
    parts: list[tuple[bool, str]] = []
    for is_code_block, block in split_blocks(text):
        parts += [(True, clean_code(block))] if is_code_block else clean_prose(block)
    pieces = [(is_code, piece) for is_code, piece in parts if piece.strip()]
    # Platform chrome (sign-in bars, share cards, counters, footers) is not the author's writing.
    return join_pieces(remove_chrome(pieces) if page_chrome else pieces)


def join_pieces(pieces: Iterable[tuple[bool, str]]) -> str:
    """(is_code, paragraph) pieces joined by blank lines; a prose paragraph repeated verbatim is kept once."""
    seen: set[str] = set()
    kept = []
    for is_code, piece in pieces:
        if not piece.strip():
            continue
        # Crawled pages repeat bylines and captions; code may legitimately repeat.
        if not is_code:
            if piece in seen:
                continue
            seen.add(piece)
        kept.append(piece)
    return "\n\n".join(kept)


def join_cleaned(texts: Iterable[str]) -> str:
    """Texts that are already clean joined into one, as `clean_text` of their concatenation would give it
    (a paragraph repeated across them is kept once), without cleaning them again."""
    pieces: list[tuple[bool, str]] = []
    for is_code, block in split_blocks("\n\n".join(text for text in texts if text)):
        pieces += [(True, block)] if is_code else [(False, part.strip()) for part in block.split("\n\n")]
    return join_pieces(pieces)


def clean_source_file(path: str, text: str) -> str:
    """One repository file as a cleaned section: a `File: <path>` header line, then its code."""
    code = clean_code(replace_urls(normalize_unicode(text)))
    return f"File: {path}\n{code}" if code.strip() else ""
