"""What a piece of the author's text is about, without a model: its noun-phrase key phrases, ranked.

Template instructions are written from these (with the title and heading topics of `titles`). Candidates
come from the text's prose (see `prose`), cut at the words `vocabulary` lists, so the ranking is plain
string work: deterministic and fast.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from llm_engineering.application.datasets.casing import count_mentions, lower_if_plain, occurs
from llm_engineering.application.datasets.prose import prose
from llm_engineering.application.datasets.vocabulary import (
    AMBIGUOUS_THIRD_PERSON,
    AMBIGUOUS_VERBS,
    GENERIC_NOUNS,
    GERUNDS,
    MODIFIER_CONTEXT,
    PARTICIPLES,
    PAST_FORMS,
    STOPWORDS,
    VAGUE,
    VERB_CONTEXT,
    WORD,
    breaks_phrase,
    cannot_end,
    is_technical,
    looks_past,
    singular,
    words,
)

_MAX_PHRASE_WORDS = 3
_SENTENCE_END = frozenset(".!?:\n\u2022\u2192|")  # what a capital after it may only mark


@dataclass(frozen=True)
class _Candidate:
    words: tuple[str, ...]
    sentence_start: bool  # its first word opens a sentence or a line, so its capital may mean nothing


def key_phrases(
    text: str,
    top_k: int = 5,
    *,
    document: str | None = None,
    title: str | None = None,
    names: Collection[str] = (),
    code: bool = False,
) -> list[str]:
    """The top_k noun-phrase-like key phrases of text, best first.

    Candidates are runs of up to three words (cut from the run's end, where a noun phrase keeps its
    head) not broken by a stopword, a verb, an adverb, a number, punctuation, a line break, page chrome
    ("SubscribeSign", "Copy link"), a URL or code fragment or a word of `names` (the author's name).
    Code is skipped but for its comments (see `prose`), unless `code` is set. A phrase never starts with
    a vague modifier ("main", "following") or a verb in verb position ("to merge models"), never ends
    with an adjective, a participle or an adverb, and is not made only of generic nouns ("amount"),
    numbers or 1-2 character tokens; a single plain word needs two mentions.

    A word scores its degree over its frequency among the candidates (RAKE: Rapid Automatic Keyword
    Extraction), a phrase the sum of its words, times 1 + ln(how often the phrase occurs in `document`,
    text by default, at most 20) (a single plain word: times 0.5), times 1.5 for a phrase all in `title`
    and 1.25 for a technical term (an acronym, CamelCase, a hyphenated or digit-bearing word, a name).
    Ties go alphabetically; the singular/plural twin of a better phrase is left out. A phrase keeps the
    casing of its first occurrence outside a sentence start, lowered where the document writes it in
    lower case ("greedy search" for the heading's "Greedy Search"). Deterministic.
    """
    if top_k <= 0:
        return []
    excluded = {word.lower() for name in names for word in words(name)}
    candidates = _candidate_phrases(text if code else prose(text, document, comments=True), excluded)
    frequency: Counter[str] = Counter()
    degree: Counter[str] = Counter()
    for candidate in candidates:
        for word in candidate.words:
            frequency[word.lower()] += 1
            degree[word.lower()] += len(candidate.words)
    occurrences = _ngram_counts(document if document is not None else text)
    title_words = {singular(word.lower()) for word in words(title or "")}
    surface: dict[str, _Candidate] = {}
    scores: dict[str, float] = {}
    for candidate in candidates:
        key = " ".join(candidate.words).lower()
        if key in surface:
            if surface[key].sentence_start and not candidate.sentence_start:
                surface[key] = candidate
            continue
        surface[key] = candidate
        rake = sum(degree[word.lower()] / frequency[word.lower()] for word in candidate.words)
        plain_word = len(candidate.words) == 1 and not is_technical(candidate.words[0], not candidate.sentence_start)
        if plain_word and frequency[key] < 2:
            continue  # a lone common word said once ("figure") is no topic
        # A single plain word recurs because it is common ("layer"), a phrase or a name because it is the topic.
        recurrence = 0.5 if plain_word else 1 + math.log(min(max(occurrences[key], 1), 20))
        in_title = 1.5 if all(singular(word.lower()) in title_words for word in candidate.words) else 1.0
        technical = 1.25 if _has_technical_word(candidate) else 1.0
        # Rounded, so scores equal up to float noise tie exactly and the alphabetical order decides.
        scores[key] = round(rake * recurrence * in_title * technical, 9)
    ranked: list[str] = []
    seen: set[str] = set()
    for key in sorted(scores, key=lambda key: (-scores[key], key)):
        twin = " ".join(singular(word) for word in key.split())
        if twin not in seen:
            seen.add(twin)
            ranked.append(_natural_phrase(surface[key], document if document is not None else text))
        if len(ranked) == top_k:
            break
    return ranked


def _has_technical_word(candidate: _Candidate) -> bool:
    # A capital that opens a sentence makes no name.
    capital_counts = (index > 0 or not candidate.sentence_start for index in range(len(candidate.words)))
    return any(map(is_technical, candidate.words, capital_counts))


def _candidate_phrases(text: str, excluded: Collection[str] = ()) -> list[_Candidate]:
    """The noun phrases of the runs of words between stopwords, breaking words and punctuation."""
    phrases: list[_Candidate] = []
    run: list[str] = []
    run_before, run_sentence = "", True  # the stopword before the run, and whether it opens a sentence

    def flush() -> None:
        if run:
            phrases.extend(_noun_phrases(run, run_before, run_sentence))
        run.clear()

    previous_end: int | None = None
    before, sentence = "", True
    for match in WORD.finditer(text):
        word, lowered = match.group(), match.group().lower()
        gap = text[previous_end if previous_end is not None else 0 : match.start()]
        # Anything but spaces between two words (punctuation, a line break) ends the phrase.
        if gap.strip(" \t") or previous_end is None:
            flush()
            before = ""
            sentence = previous_end is None or bool(_SENTENCE_END & set(gap))
        previous_end = match.end()
        if (
            lowered in STOPWORDS
            or lowered in excluded
            or breaks_phrase(word)
            or _is_fragment(text, match.start(), match.end())
        ):
            flush()
            before, sentence = lowered, False
            continue
        if not run:
            run_before, run_sentence = before, sentence
        run.append(word)
    flush()
    return phrases


def _noun_phrases(run: list[str], before: str, sentence_start: bool) -> list[_Candidate]:
    """The noun-phrase-like pieces of a run of non-stopwords, at most three words each."""
    segments: list[tuple[list[str], bool]] = []  # (words, whether the first opens a sentence)
    current: list[str] = []
    current_start = False
    for index, word in enumerate(run):
        lowered = word.lower()
        first = index == 0
        if first and lowered in AMBIGUOUS_VERBS and (before in VERB_CONTEXT or sentence_start):
            verb = True  # "to merge models", "Merge the models": a verb, not "merge method"
        elif index + 1 < len(run) and (lowered in GERUNDS or lowered in AMBIGUOUS_THIRD_PERSON):
            verb = True  # "removing duplicate samples", "Qdrant indexes points": the samples, the points
        elif lowered in PAST_FORMS or looks_past(lowered):
            # A participle before its noun is an adjective ("the quantized model", "4-bit quantized weights");
            # elsewhere, a finite verb ("tensors outperformed arrays", "is called depth-up scaling").
            verb = not (lowered in PARTICIPLES or (first and (before in MODIFIER_CONTEXT or sentence_start)))
        else:
            verb = False
        if verb:
            if current:
                segments.append((current, current_start))
            current, current_start = [], False
            continue
        if not current:
            current_start = sentence_start and first
        current.append(word)
    if current:
        segments.append((current, current_start))
    phrases = []
    for segment, starts_sentence in segments:
        # A run longer than the phrase limit is cut from its end, where an English noun phrase keeps its head.
        cuts = list(range(len(segment), 0, -_MAX_PHRASE_WORDS))
        for end in reversed(cuts):
            start = max(0, end - _MAX_PHRASE_WORDS)
            piece = _trimmed(segment[start:end])
            if piece and _is_topic(piece):
                opens = starts_sentence and start == 0 and piece[0] == segment[0]
                phrases.append(_Candidate(tuple(piece), opens))
    return phrases


def _trimmed(phrase: list[str]) -> list[str]:
    """Without vague modifiers at the start and adjectives, participles or adverbs at the end."""
    start, end = 0, len(phrase)
    while start < end and phrase[start].lower() in VAGUE:
        start += 1
    while end > start and cannot_end(phrase[end - 1].lower()):
        end -= 1
    # A name after common nouns starts a clause ("a numerical representation Google developed").
    if end - start >= 2 and phrase[end - 2].islower() and lower_if_plain(phrase[end - 1]) != phrase[end - 1]:
        end -= 1
    return phrase[start:end]


def _is_topic(phrase: list[str]) -> bool:
    lowered = [word.lower() for word in phrase]
    if not any(not word.isdigit() and len(word) > 2 for word in phrase):
        return False
    return not all(word in GENERIC_NOUNS or word in VAGUE or word.isdigit() for word in lowered)


def _is_fragment(text: str, start: int, end: int) -> bool:
    """A piece of a URL, a handle, a file name or a code call ("decodingml.substack", "@user", "load(")."""
    previous = text[start - 1] if start else " "
    following = text[end] if end < len(text) else " "
    after_next = text[end + 1] if end + 1 < len(text) else " "
    if previous in "@/#\\_" or following in "/_(@=\\":
        return True
    if following == "." and after_next.islower():
        return True
    # "model.generate", "v1.search": a lowercase word right after a dot that follows a lowercase letter or digit.
    return (
        previous == "."
        and start >= 2
        and (text[start - 2].islower() or text[start - 2].isdigit())
        and (text[start].islower())
    )


@lru_cache(maxsize=16)
def _ngram_counts(content: str) -> Counter[str]:
    """How often each lowercased run of 1-3 words occurs in content (extracts of one document share it)."""
    tokens = [token.lower() for token in words(content)]
    counts: Counter[str] = Counter()
    for size in range(1, _MAX_PHRASE_WORDS + 1):
        counts.update(" ".join(tokens[index : index + size]) for index in range(len(tokens) - size + 1))
    return counts


def _natural_phrase(candidate: _Candidate, content: str) -> str:
    """The phrase as the document writes it in running text: "greedy search", not the heading's "Greedy Search"."""
    phrase = list(candidate.words)
    lowered = [lower_if_plain(word) for word in phrase]
    if lowered != phrase and occurs(" ".join(lowered), content):
        return " ".join(lowered)
    # Only a lone opening capital goes, unless the content capitalises the word mid-sentence (a name):
    # "Greedy search leads" -> "greedy search"; "Qdrant indexes" and "Graph Attention Networks" stay.
    title_case = any(word != low for word, low in zip(phrase[1:], lowered[1:], strict=True))
    opening_capital = candidate.sentence_start and lowered[0] != phrase[0] and not title_case
    if opening_capital and (occurs(lowered[0], content) or not count_mentions(phrase[0], content, mid_sentence=True)):
        phrase[0] = lowered[0]
    return " ".join(phrase)
