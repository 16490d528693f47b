"""Instructions for samples whose answer is the author's own text: templates, and the gate for a model's.

`template_instruction` writes one without a model, from the document's title, the section heading and
the extract's key phrases. `validate_instruction` cleans what a (small, local) model wrote and rejects
junk; `instruction_rejection_reason` says why, for the generation report. Like the book's prompt asks
of the teacher, an instruction never mentions the extract, passage or context it was written from.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from string import Formatter

from llm_engineering.application.datasets.extracts import Extract
from llm_engineering.application.datasets.prose import code_share, prose
from llm_engineering.application.datasets.titles import headings, section_topic, title_topic
from llm_engineering.application.datasets.topics import key_phrases
from llm_engineering.application.datasets.vocabulary import STOPWORDS, words
from llm_engineering.domain.prompts import BACK_TRANSLATION_EXAMPLE_REQUESTS

# Each template needs the fields it names; one missing a field is skipped for the next. {phrase} and
# {phrase2} are noun phrases, singular or plural, so no wording makes a verb agree with them. {title} is
# the document's title as a noun phrase, {goal} what an imperative title sets out to do ("quantize Llama
# models with GGML"), {topic} the section heading, else the title.
TEMPLATES: tuple[str, ...] = (
    "Explain {phrase} in the context of {topic}.",
    "Write a paragraph about {phrase}.",
    "What should an engineer know about {phrase}?",
    "How do {phrase} and {phrase2} relate to each other?",
    "What role does {phrase} play in {title}?",
    "Give a practical overview of {phrase}.",
    "I want to {goal}. What should I know about {phrase}?",
    "Can you walk me through {phrase}?",
    "Explain {phrase} as you would to a new team member.",
    "Summarize what matters about {phrase} when working on {title}.",
    "When I {goal}, what is the role of {phrase}?",
    "What is the purpose of {phrase} in {topic}?",
)
# For an extract that is mostly code, whose answer shows how rather than says what.
CODE_TEMPLATES: tuple[str, ...] = (
    "Show the code for {phrase}.",
    "How would you implement {phrase} in code?",
    "Show me the code to {goal}.",
    "Write the code for {phrase} in the context of {topic}.",
)
CODE_SHARE = 0.5  # an extract with more of its words in code than this gets a `CODE_TEMPLATES` phrasing


REJECTION_REASONS: tuple[str, ...] = (
    "empty",
    "copies_example",
    "too_short",
    "too_long",
    "not_a_request",
    "mentions_source",
    "off_topic",
    "copies_text",
    "repetitive",
)
MIN_WORDS = 4
MAX_WORDS = 40
COPY_WORDS = 8

_REQUEST_WORD_LIST = """
    explain describe write summarize summarise compare contrast list outline discuss define illustrate
    analyze analyse evaluate assess identify give provide show tell detail elaborate suggest propose
    draft create imagine
    how what why when where which who whom whose can could should would will is are do does did
"""
REQUEST_WORDS: frozenset[str] = frozenset(_REQUEST_WORD_LIST.split())
# Words of a request that say nothing about its topic, so they never count as sharing it with the extract.
_GENERIC_WORD_LIST = """
    paragraph paragraphs briefly detail details example examples concept concepts idea ideas main role
    important importance explanation overview summary short
"""
_GENERIC_WORDS: frozenset[str] = REQUEST_WORDS | frozenset(_GENERIC_WORD_LIST.split())

_SOURCE_NOUNS = r"(?:passage|extract|excerpt|context(?!\s+of\b)|text|article|author|paragraph|document|snippet|post)s?"
_SOURCE_NOUN = re.compile(_SOURCE_NOUNS, re.IGNORECASE)
_MENTIONS_SOURCE = re.compile(
    r"\b(?:the|this|that|these|those|given|provided|following|above|previous|preceding|original)\s+"
    + _SOURCE_NOUNS
    + r"\b|\b(?:mentioned|described|stated|discussed|shown|listed|explained|given|written)\s+above\b"
    + r"|\bthe\s+above\b|\bauthor's\b",
    re.IGNORECASE,
)
_PREFIX = re.compile(r"^(?:instruction|question|prompt|task|request|q)\s*\d*\s*[:.)]\s*", re.IGNORECASE)
_LIST_MARKER = re.compile(r"^(?:[-*•+]|\(?\d{1,3}[.)])\s+")
_QUOTES = "\"'`*\u2018\u2019\u201c\u201d"
_FIRST_SENTENCE = re.compile(r"(?<=[.?!])\s")


# --- Templates -----------------------------------------------------------------------------------
def template_instruction(extract: Extract, seed: int = 0) -> str:
    """A deterministic instruction about the extract's topic, phrased by one of the `TEMPLATES`.

    The phrases are the extract's `key_phrases`, weighed by how often they recur in the whole document
    and whether the title names them, with the author's name left out. The phrasing and the key phrase
    are chosen by a stable hash of (document id, start, seed); a phrasing the extract gives no field for
    (no usable title or section heading, a single key phrase) is skipped for the next, and so is one
    `instruction_rejection_reason` rejects. An extract mostly of code gets a `CODE_TEMPLATES` phrasing.
    With no key phrase, the phrases are the section heading, the title's topic and the topic of the
    extract's first sentence, in turn.
    """
    text = extract.text
    document = extract.document
    digest = hashlib.sha256(f"{document.id}\x00{extract.start}\x00{seed}".encode()).digest()
    title = title_topic(document.title, document.content, document.author_full_name)
    names = [document.author_full_name] if document.author_full_name else []
    found = key_phrases(text, top_k=5, document=document.content, title=document.title, names=names)
    # A bare "article" or "context" makes no topic (and reads as a mention of the source).
    phrases = [phrase for phrase in found if not _SOURCE_NOUN.fullmatch(phrase)]
    section = _section_heading(extract)
    templates = CODE_TEMPLATES if code_share(text, document.content) > CODE_SHARE else TEMPLATES
    first_phrase = digest[4] % min(len(phrases), 3) if phrases else 0
    if not phrases:
        # In order; the names in a code extract's code, then its first line, are the last resorts.
        in_code = key_phrases(text, top_k=3, document=document.content, names=names, code=True)
        first = _first_sentence_topic(prose(text, document.content).strip() or text)
        phrases = list(dict.fromkeys(phrase for phrase in (section, title.noun, *in_code, first) if phrase))
    first_template = int.from_bytes(digest[:4], "big") % len(templates)
    candidates = []
    # Phrases in turn from the chosen one, each with the templates in turn from the chosen one.
    for phrase_offset in range(len(phrases)):
        index = (first_phrase + phrase_offset) % len(phrases)
        phrase = phrases[index]
        values = {
            "phrase": phrase,
            "phrase2": _partner(phrases, index),
            "title": _unless_overlapping(title.noun, phrase),
            "goal": _unless_overlapping(title.goal, phrase),
            "topic": _unless_overlapping(section or title.noun, phrase),
        }
        for template_offset in range(len(templates)):
            template = templates[(first_template + template_offset) % len(templates)]
            if all(values[name] for name in _fields(template)):
                candidate = template.format(**values)
                if instruction_rejection_reason(candidate, text) is None:
                    return candidate
                candidates.append(candidate)
    return candidates[0]


def _fields(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in Formatter().parse(template) if name)


def _partner(phrases: list[str], index: int) -> str | None:
    """The next phrase after phrases[index] that shares no word with it ("LoRA" is no partner of "LoRA rank")
    and is not its spelled-out acronym ("LLM" and "large language models")."""
    own = {word.lower() for word in words(phrases[index])}
    for offset in range(1, len(phrases)):
        other = phrases[(index + offset) % len(phrases)]
        theirs = {word.lower() for word in words(other)}
        singular = {word.removesuffix("s") for word in own | theirs}  # "LLMs" spells "llm" too
        if not own & theirs and not singular & {_initials(phrases[index]), _initials(other)}:
            return other
    return None


def _initials(phrase: str) -> str:
    """The acronym a phrase of two or more words spells ("large language models" -> "llm"), else ""."""
    tokens = words(phrase)
    return "".join(token[0] for token in tokens).lower() if len(tokens) >= 2 else ""


def _unless_overlapping(context: str | None, phrase: str) -> str | None:
    """The context, unless it holds every content word of the phrase ("greedy search" in "Greedy Search")."""
    if not context:
        return None
    phrase_words = {word.lower() for word in words(phrase)} - STOPWORDS
    return None if phrase_words <= {word.lower() for word in words(context)} else context


def _section_heading(extract: Extract) -> str | None:
    """The topic of the last usable heading that starts before the extract ends (the section it sits in).

    Chrome, captions and question headings are skipped for the heading before them (see `section_topic`).
    """
    document = extract.document
    section = None
    for position, topic in _sections(document.content, document.title, document.author_full_name):
        if position >= extract.end:
            break
        section = topic
    return section


@lru_cache(maxsize=64)  # every extract of a document asks again
def _sections(content: str, title: str | None, author: str | None) -> tuple[tuple[int, str], ...]:
    """(position, topic) of the document's usable section headings, in order."""
    sections = []
    for heading in headings(content):
        topic = section_topic(heading, content, author) if heading != title else None
        if topic:
            sections.append((content.find(heading), topic))
    return tuple(sorted(sections))


def _first_sentence_topic(text: str) -> str:
    """The first sentence's opening content words (up to four), or its first words."""
    sentence = _FIRST_SENTENCE.split(text, maxsplit=1)[0]
    tokens = words(sentence)
    content = [token for token in tokens if token.lower() not in STOPWORDS]
    return " ".join((content or tokens)[:4]) or sentence.strip()[:60]


# --- Validation ----------------------------------------------------------------------------------
def clean_instruction(candidate: str) -> str:
    """The first line that holds anything once list markers, "Instruction:"-like prefixes and quotes go."""
    for line in candidate.splitlines():
        cleaned, previous = line, None
        while cleaned != previous:
            previous = cleaned
            cleaned = cleaned.strip().strip(_QUOTES).strip()
            cleaned = _PREFIX.sub("", _LIST_MARKER.sub("", cleaned))
        if cleaned:
            return cleaned
    return ""


def instruction_rejection_reason(candidate: str, extract_text: str) -> str | None:
    """Why the cleaned candidate is no usable instruction for extract_text (one of `REJECTION_REASONS`), or None."""
    instruction = clean_instruction(candidate)
    if not instruction:
        return "empty"
    if _copies_example(instruction):
        return "copies_example"
    tokens = [token.lower() for token in words(instruction)]
    if len(tokens) < MIN_WORDS:
        return "too_short"
    if len(tokens) > MAX_WORDS:
        return "too_long"
    if not instruction.endswith("?") and tokens[0] not in REQUEST_WORDS:
        return "not_a_request"
    if _MENTIONS_SOURCE.search(instruction):
        return "mentions_source"
    extract_tokens = [token.lower() for token in words(extract_text)]
    if not _topic_words(tokens, exclude=_GENERIC_WORDS) & _topic_words(extract_tokens):
        return "off_topic"
    if _ngrams(tokens, COPY_WORDS) & _ngrams(extract_tokens, COPY_WORDS):
        return "copies_text"
    if _is_repetitive(tokens):
        return "repetitive"
    return None


def validate_instruction(candidate: str, extract_text: str) -> str | None:
    """The cleaned instruction (see `clean_instruction`), or None when `instruction_rejection_reason` rejects it."""
    if instruction_rejection_reason(candidate, extract_text) is not None:
        return None
    return clean_instruction(candidate)


def _copies_example(instruction: str) -> bool:
    """Whether the instruction repeats, whole, a few-shot example request of the back-translation prompt."""
    normalised = f" {_normalised(instruction)} "
    return any(f" {example} " in normalised for example in _EXAMPLE_REQUESTS)


def _normalised(text: str) -> str:
    """Lowercase words only, one space apart."""
    return " ".join(word.lower() for word in words(text))


_EXAMPLE_REQUESTS = tuple(filter(None, map(_normalised, BACK_TRANSLATION_EXAMPLE_REQUESTS)))


def _topic_words(tokens: list[str], exclude: frozenset[str] = frozenset()) -> set[str]:
    """Content words of 4+ letters, a plural "s" dropped so "models" meets "model"."""
    return {
        token[:-1] if token.endswith("s") and len(token) > 4 else token
        for token in tokens
        if sum(char.isalpha() for char in token) >= 4 and token not in STOPWORDS and token not in exclude
    }


def _ngrams(tokens: list[str], size: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[index : index + size]) for index in range(len(tokens) - size + 1)}


def _is_repetitive(tokens: list[str]) -> bool:
    """A content word four or more times, or a word trigram twice."""
    counts: dict[str, int] = {}
    for token in tokens:
        if token not in STOPWORDS:
            counts[token] = counts.get(token, 0) + 1
    trigrams = [tuple(tokens[index : index + 3]) for index in range(len(tokens) - 2)]
    return max(counts.values(), default=0) >= 4 or len(set(trigrams)) < len(trigrams)
