"""What a document's title and its section headings say it is about: headings found, and titles and
headings turned into noun phrases or goals a request can be set in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from llm_engineering.application.datasets.casing import count_mentions, lower_if_plain, occurs
from llm_engineering.application.datasets.vocabulary import (
    ADJECTIVES,
    CHROME,
    GENERIC_NOUNS,
    STOPWORDS,
    VAGUE,
    VERB_BASES,
    VERB_FORMS,
    cannot_end,
    is_glued,
    is_technical,
    word_set,
    words,
)

_CODE_CHARACTERS = frozenset("=(){}[]<>;#/\\|`*_$@")
_HEADING_END_PUNCTUATION = ".,;:!"


def headings(content: str) -> list[str]:
    """Lines of cleaned content that look like section titles, in order, without repeats.

    A heading stands alone as a paragraph (blank lines around it), outside code fences, has 2-10
    words, starts with a capital letter or a digit, holds no code symbols and does not end with
    sentence punctuation (a question mark is allowed: "What is RAG?").
    """
    lines = content.split("\n")
    found: list[str] = []
    in_code = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_code = not in_code
            continue
        alone = (index == 0 or not lines[index - 1].strip()) and (
            index + 1 == len(lines) or not lines[index + 1].strip()
        )
        if not in_code and alone and _looks_like_heading(stripped) and stripped not in found:
            found.append(stripped)
    return found


def _looks_like_heading(line: str) -> bool:
    tokens = line.split()
    if not 2 <= len(tokens) <= 10 or not (line[0].isupper() or line[0].isdigit()):
        return False
    if line[-1] in _HEADING_END_PUNCTUATION or line.startswith("File:") or "[URL]" in line:
        return False
    if any(char in _CODE_CHARACTERS for char in line):
        return False
    return any(sum(char.isalpha() for char in word) >= 3 for word in words(line))


@dataclass(frozen=True)
class TitleTopic:
    """What a title says the document is about, in the form a request can use.

    `noun` is a noun phrase ("decoding strategies in large language models"), `goal` what an
    imperative or "How to" title sets out to do ("quantize Llama models with GGML"); at most one is set.
    """

    noun: str | None = None
    goal: str | None = None


_TITLE_SEPARATOR = re.compile(r"\s+[-\u2013\u2014|\u2219\u00b7]\s+")
_NEWSLETTER_TAG = re.compile(r"^([A-Z][A-Za-z]{1,5}):\s+")
_SUBTITLE = re.compile(r"^([^:]+?):\s+(.+)$")
_TITLE_GUIDE = re.compile(
    r"^(?:(?:an?|the)\s+)?(?:(?:beginner's|practical|complete|quick|gentle|ultimate)\s+)?"
    r"(?:introduction|guide|primer|tutorial)\s+(?:to|on)\s+",
    re.IGNORECASE,
)
_LISTICLE = re.compile(
    r"^(?:top\s+)?\d+(?:\s|-(?:steps?|tips?|ways?|things?|ideas?|reasons?|lessons?)\b)", re.IGNORECASE
)
_HOW_TO = re.compile(r"^how\s+to\s+", re.IGNORECASE)
_ENUMERATOR = re.compile(
    r"^(?:(?:lesson|part|step|chapter)\s+\d+\s*[:.]\s*|(?:[IVX]+|\d{1,2}(?:\.\d{1,2})*|[A-H])[.)]\s+)",
    re.IGNORECASE,
)
_ARROWS = re.compile(r"\s*[\u2190-\u21ff\u2b05-\u2b07].*$")
_TITLE_CONNECTORS = word_set("of and for in on to the a with")
_DEICTIC = word_set("you your yours yourself we our us i me my this these here")
_QUESTION_WORDS = word_set("what why how when which who")
_SOURCE_WORDS = word_set(
    "article articles post posts passage passages author authors image images notes screenshot screenshots"
)


@lru_cache(maxsize=256)  # every extract of a document asks again
def title_topic(title: str | None, content: str, author: str | None = None) -> TitleTopic:
    """The topic of a document's title, or an empty `TitleTopic` when the title makes none.

    The author's name and "by ..." parts ("Maxime Labonne - Fine-tune Llama 3.1" -> "Fine-tune Llama
    3.1"), a newsletter tag the content hardly names ("DML: ..."), "Introduction to" / "A Guide to"
    openings, a closing participle ("Demystified") and end punctuation go; a "Head: subtitle" title keeps
    its head. A question (but "How to ..." is a goal), a listicle ("7 tips to ..."), a title of fewer
    than 2 or more than 15 words (a one-word head is kept when it is a technical name like "GraphSAGE")
    or one that speaks to the reader ("your", "this") makes none, except that an imperative's "your"
    becomes "my": "Fix your messy ML configs" -> goal "fix my messy ML configs". Words are lowered
    where the content writes them in lower case.
    """
    if not title:
        return TitleTopic()
    author_words = {word.lower() for word in words(author or "")}
    segments = [segment.strip() for segment in _TITLE_SEPARATOR.split(title.strip())]
    kept = [segment for segment in segments if segment and not _is_byline(segment, author_words)]
    if not kept:
        return TitleTopic()
    text, one_word_ok = kept[0], False
    tag = _NEWSLETTER_TAG.match(text)
    if tag and count_mentions(tag.group(1), content) < 3:
        text = text[tag.end() :]  # "DML: How to ..." -> "How to ...", but "GraphSAGE: Scaling up GNNs" keeps it
    subtitled = _SUBTITLE.match(text)
    if subtitled and not _HOW_TO.match(text):
        head = subtitled.group(1).strip()
        one_word_ok = len(words(head)) == 1 and is_technical(head)
        text = head if len(words(head)) >= 2 or one_word_ok else subtitled.group(2)
    text = _TITLE_GUIDE.sub("", text).rstrip(" .!")
    goal = bool(_HOW_TO.match(text))
    text = _HOW_TO.sub("", text).rstrip("?") if goal else text
    tokens = words(text)
    while len(tokens) > 2 and cannot_end(tokens[-1].lower()) and text.endswith(tokens[-1]):
        text = text[: -len(tokens[-1])].rstrip()  # "LLM Agents Demystified" -> "LLM Agents"
        tokens = tokens[:-1]
    if not tokens or "?" in text or "," in text or _LISTICLE.match(text):
        return TitleTopic()
    if not (2 <= len(tokens) <= 15 or (one_word_ok and len(tokens) == 1)):
        return TitleTopic()
    lowered = {token.lower() for token in tokens}
    if lowered & (CHROME | _SOURCE_WORDS | _QUESTION_WORDS) or any(is_glued(token) for token in tokens):
        return TitleTopic()
    goal = goal or (tokens[0].lower() in VERB_BASES and text.split()[0].lower() == tokens[0].lower())
    if goal:
        text = re.sub(r"\byour\b", "my", re.sub(r"\bYour\b", "my", text))
        lowered = {token.lower() for token in words(text)} - {"my"}
    if lowered & _DEICTIC:
        return TitleTopic()
    natural = _natural_title(text, content.replace(title.strip(), " ").replace(kept[0], " "))  # not its own line
    if goal:
        verb, _, rest = natural.partition(" ")
        return TitleTopic(goal=f"{verb.lower()} {rest}".strip())
    return TitleTopic(noun=natural)


@lru_cache(maxsize=4096)
def section_topic(heading: str, content: str, author: str | None = None) -> str | None:
    """A section heading as a noun phrase to set a request in ("A. Neighbor Sampling" -> "neighbor sampling").

    Numbering ("II.", "Lesson 3:") and trailing arrows go. Questions, imperatives, headings that open
    with a function word ("To summarize") or speak to the reader, captions ("Image by author"), chrome,
    dates, the author's name and other person names (Title Case words the content never writes in
    lower case) make no topic: None. Words are lowered where the content writes them in lower case.
    """
    text = _ARROWS.sub("", _ENUMERATOR.sub("", heading.strip())).strip().rstrip(":")
    text = _TITLE_SEPARATOR.split(text)[0]
    subtitled = _SUBTITLE.match(text)
    if subtitled:
        head = subtitled.group(1).strip()
        text = head if len(words(head)) >= 2 or is_technical(head) else subtitled.group(2)
    text = _TITLE_GUIDE.sub("", text)
    tokens = words(text)
    if not 1 <= len(tokens) <= 8 or "?" in text or "," in text:
        return None
    lowered = [token.lower() for token in tokens]
    author_words = {word.lower() for word in words(author or "")}
    unusable = _DEICTIC | CHROME | _SOURCE_WORDS | _QUESTION_WORDS | author_words | {"by"}
    if set(lowered) & unusable or any(is_glued(token) for token in tokens):
        return None
    if lowered[0] in VERB_BASES or lowered[0] in VERB_FORMS or lowered[0] in STOPWORDS - {"a", "an", "the"}:
        return None
    content_words = [token for token in lowered if token not in STOPWORDS and not token.isdigit()]
    if not content_words or all(token in GENERIC_NOUNS | VAGUE | ADJECTIVES for token in content_words):
        return None
    if (len(tokens) == 1 and not is_technical(tokens[0], capital_counts=False)) or _looks_like_name(tokens, content):
        return None
    return _natural_title(text, content.replace(heading, " "))  # not its own line


def _is_byline(segment: str, author_words: set[str]) -> bool:
    segment_words = {word.lower() for word in words(segment)}
    return (
        segment.lower().startswith("by ")
        or (bool(segment_words) and segment_words <= author_words)
        or bool(segment_words & {"newsletter", "medium", "substack"})
    )


def _looks_like_name(tokens: list[str], content: str) -> bool:
    """2-3 capitalised plain words, none of which the content writes in lower case: "Pau Labarta Bajo"."""
    if not 2 <= len(tokens) <= 3 or not all(token[:1].isupper() and token[1:].islower() for token in tokens):
        return False
    return not any(occurs(token.lower(), content) for token in tokens)


def _natural_title(text: str, content: str) -> str:
    """Title Case lowered where the content writes it in lower case.

    A run of capitalised words (with "of", "and"... between them) that the content also capitalises
    mid-sentence is a name and stays whole ("Direct Preference Optimization", "Chain of Thought
    Reasoning"), and so does a run of two or more capitalised words the content never writes in lower
    case ("LLM Twin Course"); any other capitalised word is lowered where the content writes it in lower
    case at least as often as it capitalises it mid-sentence or, in a Title Case title, never writes it.
    """
    tokens = text.split()
    natural = list(tokens)
    # Title Case capitalises every content word; a sentence-case title capitalises only names.
    title_case = not any(token.isalpha() and token.islower() and token not in STOPWORDS for token in tokens[1:])
    index = 0
    while index < len(tokens):
        run = _capitalised_run(tokens, index, connectors=True)
        if run - index >= 2 and count_mentions(" ".join(tokens[index:run]), content, mid_sentence=True):
            index = run
            continue
        run = _capitalised_run(tokens, index, connectors=False)
        if run - index >= 2 and not any(count_mentions(lower_if_plain(token), content) for token in tokens[index:run]):
            index = run
            continue
        for position in range(index, max(run, index + 1)):
            token = tokens[position]
            lowered = lower_if_plain(token)
            if lowered == token:
                continue
            plain = count_mentions(lowered, content)
            # Lowered: an opening word the content does not capitalise mid-sentence more often than it writes
            # it in lower case, any word it writes in lower case at least as often as it capitalises it
            # mid-sentence, and, in a Title Case title, one it never writes ("Ultra-Efficiently").
            if (
                (position == 0 and (lowered in STOPWORDS or plain >= count_mentions(token, content, mid_sentence=True)))
                or (plain and plain >= count_mentions(token, content, mid_sentence=True))
                or (title_case and not (plain or count_mentions(token, content)))
            ):
                natural[position] = lowered
        index = max(run, index + 1)
    return " ".join(natural)


def _capitalised_run(tokens: list[str], start: int, connectors: bool) -> int:
    """The end of the run of capitalised plain words from start (with connector words inside, if asked)."""
    end = start
    while end < len(tokens) and (
        lower_if_plain(tokens[end]) != tokens[end]
        or (connectors and end > start and end + 1 < len(tokens) and tokens[end] in _TITLE_CONNECTORS)
    ):
        end += 1
    while end > start and tokens[end - 1] in _TITLE_CONNECTORS:
        end -= 1
    return end
