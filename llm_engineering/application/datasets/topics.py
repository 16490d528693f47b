"""What a piece of the author's text is about, without a model: RAKE key phrases and section headings.

Template instructions are written from these, and instruction validation uses the same words and
stopwords to check that a model's instruction is on the extract's topic.
"""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction

# Letters and digits, with inner hyphens kept ("fine-tuning"); apostrophes split ("model's" -> model, s).
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_MAX_PHRASE_WORDS = 3
_CODE_CHARACTERS = frozenset("=(){}[]<>;#/\\|`*_$@")
_HEADING_END_PUNCTUATION = ".,;:!"

_STOPWORD_LIST = """
    a able about above across actually add after again against all allow allows almost along already also
    although always am among an and another any anyone anything are around as at away based be became because
    become becomes been before behind being below best better between beyond both but by came can cannot
    certain come comes consider could did different directly do does doing done down during each easily easy
    either else enough entirely especially etc even ever every few find first for from further get gets
    getting give given gives go goes going good got great had has have having he help helps her here hers
    herself him himself his how however i if in include includes including instead into is it its itself
    just keep know last later least less let lets like look looks lot lots made make makes making many may me
    might more most much must my myself need needs neither new next no nor not now of off often on once one
    only onto or other others our ours ourselves out over own per possible pretty quite rather read really
    right same say second see seen several shall she should show shows simply since so some something soon
    still such sure take takes than that the their theirs them themselves then there therefore these they
    thing things this those though through thus to today together too toward towards try two under until up
    upon us use used uses using usually various very via want wants was way ways we well were what when where
    whether which while who whom whose why will with within without would yet you your yours yourself
    yourselves
    s t d ll m re ve don doesn didn isn aren wasn weren won wouldn couldn shouldn haven hasn hadn
    url com www http https
"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_LIST.split())
"""A compact English stopword list (function words, common verbs and adverbs), plus contraction pieces,
the cleaner's `[URL]` placeholder and URL leftovers."""


def words(text: str) -> list[str]:
    """The words of text: runs of letters and digits, inner hyphens kept."""
    return _WORD.findall(text)


def key_phrases(text: str, top_k: int = 5) -> list[str]:
    """The top_k key phrases of text, best first (RAKE: Rapid Automatic Keyword Extraction).

    Candidates are runs of up to three words not broken by a stopword, a number, punctuation or a line break;
    a word scores its degree over its frequency among the candidates, a phrase the sum of its words.
    Ties go alphabetically. Phrases made only of numbers or 1-2 character tokens are ignored; each
    phrase keeps the casing of its first occurrence. Deterministic.
    """
    if top_k <= 0:
        return []
    candidates = _candidate_phrases(text)
    frequency: Counter[str] = Counter()
    degree: Counter[str] = Counter()
    for phrase in candidates:
        for word in phrase:
            frequency[word.lower()] += 1
            degree[word.lower()] += len(phrase)
    first_casing: dict[str, str] = {}
    scores: dict[str, Fraction] = {}
    for phrase in candidates:
        key = " ".join(phrase).lower()
        if key not in first_casing:
            first_casing[key] = " ".join(phrase)
            # Fractions, so equal scores tie exactly and the alphabetical order decides.
            scores[key] = sum((Fraction(degree[w.lower()], frequency[w.lower()]) for w in phrase), Fraction(0))
    ranked = sorted(scores, key=lambda key: (-scores[key], key))
    return [first_casing[key] for key in ranked[:top_k]]


def _candidate_phrases(text: str) -> list[list[str]]:
    phrases: list[list[str]] = []
    run: list[str] = []

    def flush() -> None:
        # A run longer than the phrase limit is cut into consecutive phrases rather than dropped.
        for index in range(0, len(run), _MAX_PHRASE_WORDS):
            phrase = run[index : index + _MAX_PHRASE_WORDS]
            if any(not word.isdigit() and len(word) > 2 for word in phrase):
                phrases.append(phrase)
        run.clear()

    previous_end: int | None = None
    for match in _WORD.finditer(text):
        # Anything but spaces between two words (punctuation, a line break) ends the phrase.
        if previous_end is not None and text[previous_end : match.start()].strip(" \t"):
            flush()
        previous_end = match.end()
        word = match.group()
        if word.lower() in STOPWORDS or _breaks_phrase(word):
            flush()
        else:
            run.append(word)
    flush()
    return phrases


def _breaks_phrase(word: str) -> bool:
    """Numbers, digit-heavy ids and hashes, and single lowercase letters (code variables) end a phrase."""
    return 2 * sum(char.isdigit() for char in word) > len(word) or (len(word) == 1 and word.islower())


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
