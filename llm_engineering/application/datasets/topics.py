"""What a piece of the author's text is about, without a model: key phrases, section headings and titles.

Template instructions are written from these, and instruction validation uses the same words and
stopwords to check that a model's instruction is on the extract's topic. Everything here is plain
string work on short word lists and suffix rules (no tagger), so it is deterministic and fast.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

# Letters and digits, with inner hyphens kept ("fine-tuning"); apostrophes split ("model's" -> model, s).
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_MAX_PHRASE_WORDS = 3


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CODE_CHARACTERS = frozenset("=(){}[]<>;#/\\|`*_$@")
_HEADING_END_PUNCTUATION = ".,;:!"
_FENCE = re.compile(r"^[ \t]*(?:```|~~~)", re.MULTILINE)
# A line of code: a statement keyword, a comment, a prompt or a closing bracket first ...
_CODE_LINE = re.compile(
    r"^(?:(?:def|class|import|return|raise|elif|except|pip)\b|else:|try:|print\(|from\s+\S+\s+import\b"
    r"|for\s+\w+(?:,\s*\w+)*\s+in\s|if\s|with\s.*:$|@\w|#|>>>|\$\s|[}\])'\"])"
)
_CODE_SYMBOLS = frozenset("=(){}[]<>;_\\|`$@")  # ... or dense in these (a call, an assignment, a literal)
_NOTICE_WORDS = _word_set(
    "subscribe subscribed subscriber subscribers subscription unsubscribe substack paywall privacy cookie cookies "
    "facebook twitter membership newsletter"
)
_COMMENT = re.compile(r"(?:^|\s)#\s+([A-Za-z][^#]*)$")
_SENTENCE_PIECE = re.compile(r"[^.!?\n]+[.!?]*")
_SENTENCE_END = frozenset(".!?:\n\u2022\u2192|")  # what a capital after it may only mark

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

# Verbs that are rarely nouns in technical prose: their base and -s forms end a phrase wherever they stand.
_VERB_LIST = """
    accept achieve add adjust analyse analyze appear arrive ask assume attach avoid begin believe belong bring
    build calculate choose collect combine compare consider consist contain continue convert create decide
    decode define delete demonstrate depend deploy describe determine discover discuss divide download drop
    enable encode encounter enhance ensure evaluate exceed exclude execute exist expect explain explore extend
    fail feel fetch find fine-tune flush forget gather generate grow guarantee happen hold identify ignore
    illustrate imagine implement improve indicate ingest initialize insert install integrate introduce invoke
    involve keep know launch lead learn leverage lose maintain manage matter maximize mean minimize modify move
    notice obtain occur offer optimize outperform parse perform pick play prefer prepare prevent produce propose
    prove provide publish put quantize reach read realize receive recommend reduce refer reflect rely remain
    remember remove render replace represent require rerank reside resolve respond restrict retrieve return
    reuse reveal rewrite save say scrape see seem select send serve simplify skip solve specify spend stay
    struggle submit succeed suffer suggest suppose teach tell tend think tokenize train translate treat trust
    tune turn understand upload utilize validate verify wait walk wish wonder wrap write yield
"""
# Gerunds that name a practice ("training", "fine-tuning") rather than act on an object ("removing samples").
_NOUN_GERUND_LIST = """
    building decoding embedding encoding fine-tuning learning programming reranking serving training
"""
# Words as often nouns as verbs ("search", "test"): only a verb right after "to", a modal or a pronoun,
# or at a sentence start (an imperative), where they are dropped from the phrase's start.
_AMBIGUOUS_VERB_LIST = """
    access answer batch benchmark cache call cause change check chunk compute control crawl deal design display
    embed experiment export feed filter fit fix focus format group guide host index label limit list load log
    map match measure merge monitor order output pass plan point process prompt query rank reason release report
    request result route run sample scale schedule score search set shift sort split start step stop store
    stream structure support switch target test track transform trigger update view work
"""
_IRREGULAR_PAST_LIST = """
    began begun bought brought built came chose chosen dealt did done drawn drew driven drove fed felt forgot
    forgotten found gave given grew grown had held kept knew known led lost made meant met paid ran said saw
    seen sent shown sold sought spent stood struck taken taught thought threw thrown told took understood went
    written wrote
"""
# Adjectival participles that may start a phrase anywhere ("the quantized model", "a fine-tuned model").
_PARTICIPLE_LIST = """
    abliterated advanced annotated automated balanced batched cached chosen compressed connected curated
    dedicated detailed distributed embedded fine-tuned fixed hosted labeled labelled managed masked merged mixed
    nested normalized pre-trained pretrained quantized rejected scaled self-hosted shared structured supervised
    tokenized trained uncensored unstructured unsupervised weighted
"""
# Adverbs and prepositions the stopword list lacks.
_ADVERB_LIST = """
    afterwards ahead anyway back besides despite else except here inside maybe meanwhile nowadays outside
    perhaps please regarding soon there throughout unlike versus vs whereas yes
"""
# Words ending in -ly that are no adverbs.
_LY_NOUN_LIST = """
    anomaly apply assembly butterfly daily early family fly friendly hourly italy july monthly poly reply supply
    weekly yearly
"""
# Adjectives that never end a noun phrase ("the model is useful"), besides the suffix rules below.
_ADJECTIVE_LIST = """
    accurate additional available bad basic big bigger cheap cheaper clear common complex considerable correct
    costly crucial current deep deeper difficult due easier easy efficient entire essential expensive false fast
    faster final fine free full general greater hard harder heavy high higher huge important interesting large
    larger latest long longer low lower main modern multiple narrow necessary newer nice older optimal original
    overall particular popular potential powerful previous proper quick ready recent relevant reliable robust
    scalable short shorter significant similar simple simpler single slow slower small smaller specific
    straightforward strong stronger true typical useful weak whole wider wrong
"""
# Modifiers that say nothing about a topic: never the first word of a phrase.
_VAGUE_LIST = """
    actual additional amazing awesome bad basic big certain considerable cool current different eight entire
    five following four full good great huge important interesting main multiple necessary nice nine numerous
    original overall particular potential powerful previous proper quick seven significant similar simple single
    six specific ten three two typical useful usual whole
"""
# Nouns that are no topic on their own.
_GENERIC_NOUN_LIST = """
    acknowledgments amount amounts answer answers appendix approach argument arguments aspect aspects attribute
    attributes beginning bit case cases class code component components conclusion conclusions content data day
    days detail details end entries entry example examples fact field fields file files function functions hour
    hours idea ideas information input introduction issue issues item items key keys kind kinds lesson lessons
    level limit line lines list method methods minute minutes model models name names number numbers object
    option options output overview part parts people piece pieces point points problem problems process question
    questions reason reasons recap reference references reminder resource resources result results section
    sections size solution solutions start step steps stuff summary system systems takeaway takeaways task tasks
    term terms time times tip tips today tool tools topic topics type types user users value values version
    versions week weeks word words world year years
"""
# Page chrome of the crawled platforms (Medium, Substack, LinkedIn) and code tokens.
_CHROME_LIST = """
    ago app apr april args aug august author authors blog blogs clap claps comment comments cookie cookies copy
    dec december def discussion editor elif email facebook false feb february follow followed followers follows
    founder highlight highlights import jan january jul july jun june kwargs listen login mar march medium
    member membership min newsletter none nov november oct october paid paywall pip print privacy published
    recommended replies reply self sep sept september share shares sign signin signup subscribe subscribed
    subscriber subscribers subscription substack terms true twitter unsubscribe written
"""
_CAMEL_ALLOWLIST = frozenset({"youtube", "linkedin", "whatsapp", "iphone"})  # names with a stopword inside


def _inflected(bases: str, third_person: bool = True, past: bool = False, gerund: bool = False) -> frozenset[str]:
    """The base forms with their -s, -ed or -ing forms (over-generated: "stoped" beside "stopped" is harmless)."""
    forms: set[str] = set()
    for base in bases.split():
        if gerund:
            stem = base[:-1] if base.endswith("e") and not base.endswith(("ee", "ye")) else base
            forms.update({stem + "ing", base + base[-1] + "ing"})
            continue
        forms.add(base)
        if third_person:
            if base.endswith(("s", "x", "z", "ch", "sh")):
                forms.add(base + "es")
            elif base.endswith("y") and base[-2] not in "aeiou":
                forms.add(base[:-1] + "ies")
            else:
                forms.add(base + "s")
        if past:
            if base.endswith("e"):
                forms.add(base + "d")
            elif base.endswith("y") and base[-2] not in "aeiou":
                forms.add(base[:-1] + "ied")
            else:
                forms.add(base + "ed")
                if re.search(r"[^aeiou][aeiou][bdgklmnprt]$", base):
                    forms.add(base + base[-1] + "ed")  # stop -> stopped
    return frozenset(forms)


_VERB_FORMS = _inflected(_VERB_LIST) | _word_set("fits works")  # -s forms of ambiguous verbs, rarely nouns
_AMBIGUOUS_VERBS = frozenset(_AMBIGUOUS_VERB_LIST.split())
# Their -s forms before another noun are verbs: a plural rarely modifies a noun ("indexes points").
_AMBIGUOUS_THIRD_PERSON = _inflected(_AMBIGUOUS_VERB_LIST) - _AMBIGUOUS_VERBS
_VERB_BASES = frozenset(_VERB_LIST.split()) | _AMBIGUOUS_VERBS | {"architect", "uncensor", "upskill"}
_PAST_FORMS = (_inflected(_VERB_LIST + _AMBIGUOUS_VERB_LIST, third_person=False, past=True) - _VERB_BASES) | frozenset(
    _IRREGULAR_PAST_LIST.split()
)
_PARTICIPLES = frozenset(_PARTICIPLE_LIST.split())
_GERUNDS = _inflected(_VERB_LIST, third_person=False, gerund=True) - frozenset(_NOUN_GERUND_LIST.split())
_ADVERBS = frozenset(_ADVERB_LIST.split())
_LY_NOUNS = frozenset(_LY_NOUN_LIST.split())
_ADJECTIVES = frozenset(_ADJECTIVE_LIST.split())
_VAGUE = frozenset(_VAGUE_LIST.split())
_GENERIC_NOUNS = frozenset(_GENERIC_NOUN_LIST.split())
_CHROME = frozenset(_CHROME_LIST.split())
_GLUE_WORDS = STOPWORDS | _CHROME
_NOT_PAST = frozenset({"embed", "hundred", "shred", "unembed"})
_ADJECTIVE_SUFFIXES = ("ous", "ful", "able", "ible", "less")
_NOUN_EXCEPTIONS = _word_set(
    "variable variables table tables cable executable deliverable objective alternative directive primitive "
    "derivative initiative incentive perspective archive executive narrative representative"
)
# The stopword just before a word that makes it a verb ("to merge", "we merge") ...
_VERB_CONTEXT = _word_set(
    "to can could will would should must may might shall cannot we you they i he she it not t ll please let lets "
    "also then just simply always never often usually easily directly"
)
# ... or an adjective ("the merged model", "of quantized weights").
_MODIFIER_CONTEXT = _word_set(
    "a an the this these those its their our your my his her each every some any all no both many few several more "
    "most other such of in on with for from by into onto over under about between via per within across "
    "through"
)
_DIGITS_GLUED = re.compile(r"^\d+[^\W\d_]{4,}")  # "92mBASELINE", "15601See": a number run into a word
_TRAILING_CAPITAL = re.compile(r"[a-z]{3}[A-Z]$|[a-z]{4}\d{2,}$")  # "DatabasesA Step", "Learning10 stories"
_AFTER_LOWERCASE_WORD = re.compile(r"(?<![\w-])[a-z][\w-]*[,;]? $")
_CAMEL_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_MEDIUM_PUBLICATION = re.compile(r"[a-z]{2}in[A-Z][a-z]")  # "Paul IusztininDecoding ML": name + "in" + publication


def words(text: str) -> list[str]:
    """The words of text: runs of letters and digits, inner hyphens kept."""
    return _WORD.findall(text)


# --- Key phrases ---------------------------------------------------------------------------------
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
    title_words = {_singular(word.lower()) for word in words(title or "")}
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
        plain_word = len(candidate.words) == 1 and not _is_technical(candidate.words[0], not candidate.sentence_start)
        if plain_word and frequency[key] < 2:
            continue  # a lone common word said once ("figure") is no topic
        # A single plain word recurs because it is common ("layer"), a phrase or a name because it is the topic.
        recurrence = 0.5 if plain_word else 1 + math.log(min(max(occurrences[key], 1), 20))
        in_title = 1.5 if all(_singular(word.lower()) in title_words for word in candidate.words) else 1.0
        technical = 1.25 if _has_technical_word(candidate) else 1.0
        # Rounded, so scores equal up to float noise tie exactly and the alphabetical order decides.
        scores[key] = round(rake * recurrence * in_title * technical, 9)
    ranked: list[str] = []
    seen: set[str] = set()
    for key in sorted(scores, key=lambda key: (-scores[key], key)):
        twin = " ".join(_singular(word) for word in key.split())
        if twin not in seen:
            seen.add(twin)
            ranked.append(_natural_phrase(surface[key], document if document is not None else text))
        if len(ranked) == top_k:
            break
    return ranked


def _has_technical_word(candidate: _Candidate) -> bool:
    # A capital that opens a sentence makes no name.
    capital_counts = (index > 0 or not candidate.sentence_start for index in range(len(candidate.words)))
    return any(map(_is_technical, candidate.words, capital_counts))


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
    glued = sum(_is_glued(word) for word in tokens)
    notice = len(tokens) <= 12 and bool(_NOTICE_WORDS & {token.lower() for token in tokens})
    if glued >= 3 or (glued == 2 and glued * 5 >= len(tokens)) or notice:
        return "\n"
    return piece.group()


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
    for match in _WORD.finditer(text):
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
            or _breaks_phrase(word)
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
        if first and lowered in _AMBIGUOUS_VERBS and (before in _VERB_CONTEXT or sentence_start):
            verb = True  # "to merge models", "Merge the models": a verb, not "merge method"
        elif index + 1 < len(run) and (lowered in _GERUNDS or lowered in _AMBIGUOUS_THIRD_PERSON):
            verb = True  # "removing duplicate samples", "Qdrant indexes points": the samples, the points
        elif lowered in _PAST_FORMS or _looks_past(lowered):
            # A participle before its noun is an adjective ("the quantized model", "4-bit quantized weights");
            # elsewhere, a finite verb ("tensors outperformed arrays", "is called depth-up scaling").
            verb = not (lowered in _PARTICIPLES or (first and (before in _MODIFIER_CONTEXT or sentence_start)))
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
    while start < end and phrase[start].lower() in _VAGUE:
        start += 1
    while end > start and _cannot_end(phrase[end - 1].lower()):
        end -= 1
    # A name after common nouns starts a clause ("a numerical representation Google developed").
    if end - start >= 2 and phrase[end - 2].islower() and _lower_if_plain(phrase[end - 1]) != phrase[end - 1]:
        end -= 1
    return phrase[start:end]


def _cannot_end(word: str) -> bool:
    if word in _ADJECTIVES or word in _PARTICIPLES or word in _PAST_FORMS or _looks_past(word):
        return True
    return (word.endswith(_ADJECTIVE_SUFFIXES) and word not in _NOUN_EXCEPTIONS) or _is_ive_adjective(word)


def _is_ive_adjective(word: str) -> bool:
    return len(word) > 5 and word.endswith("ive") and word not in _NOUN_EXCEPTIONS


def _looks_past(word: str) -> bool:
    """An -ed form by its spelling ("answered", not "speed" or "embed")."""
    return len(word) > 4 and word.endswith("ed") and not word.endswith("eed") and word not in _NOT_PAST


def _is_topic(phrase: list[str]) -> bool:
    lowered = [word.lower() for word in phrase]
    if not any(not word.isdigit() and len(word) > 2 for word in phrase):
        return False
    return not all(word in _GENERIC_NOUNS or word in _VAGUE or word.isdigit() for word in lowered)


def _breaks_phrase(word: str) -> bool:
    """Numbers, ids and hashes, code variables, verbs, adverbs, chrome and glued chrome end a phrase."""
    lowered = word.lower()
    if 2 * sum(char.isdigit() for char in word) > len(word) or (len(word) == 1 and word.islower()):
        return True
    if lowered in _VERB_FORMS or lowered in _ADVERBS or lowered in _CHROME or _DIGITS_GLUED.match(word):
        return True
    if lowered.endswith("ly") and lowered not in _LY_NOUNS and "-" not in lowered:
        return True
    return _is_glued(word)


@lru_cache(maxsize=65536)
def _is_glued(word: str) -> bool:
    """Words the crawler glued together ("FollowPublished", "pipelineThe", "agoVishal"), not CamelCase names."""
    if _MEDIUM_PUBLICATION.search(word) or _TRAILING_CAPITAL.search(word):
        return True
    if word.lower() in _CAMEL_ALLOWLIST:
        return False
    for piece in word.split("-"):
        parts = _CAMEL_PART.findall(piece)
        if len(parts) < 2:
            continue
        if parts[0].islower() and parts[0] in _GLUE_WORDS:
            return True  # "inDecoding", "theLLM"
        if any(len(part) >= 3 and part.lower() in _GLUE_WORDS for part in parts):
            return True  # "FollowPublished", "pipelineThe", "agoVishal"
    return False


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


def _is_technical(word: str, capital_counts: bool = True) -> bool:
    """Acronyms and CamelCase (LLM, QLoRA, PyTorch), hyphenated or digit-bearing terms, and, where a capital
    does not just open a sentence, proper nouns (Qdrant)."""
    return (
        sum(char.isupper() for char in word) >= 2
        or (capital_counts and word[:1].isupper())
        or "-" in word
        or (any(char.isdigit() for char in word) and any(char.isalpha() for char in word))
    )


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") and len(word) > 3 else word


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
    lowered = [_lower_if_plain(word) for word in phrase]
    if lowered != phrase and _occurs(" ".join(lowered), content):
        return " ".join(lowered)
    # Only a lone opening capital goes, unless the content capitalises the word mid-sentence (a name):
    # "Greedy search leads" -> "greedy search"; "Qdrant indexes" and "Graph Attention Networks" stay.
    title_case = any(word != low for word, low in zip(phrase[1:], lowered[1:], strict=True))
    opening_capital = candidate.sentence_start and lowered[0] != phrase[0] and not title_case
    if opening_capital and (_occurs(lowered[0], content) or not _count(phrase[0], content, mid_sentence=True)):
        phrase[0] = lowered[0]
    return " ".join(phrase)


def _lower_if_plain(word: str) -> str:
    """A capitalised ordinary word in lower case ("Search" -> "search", "Fine-Tune" -> "fine-tune");
    "LoRA", "GPT-4" stay."""
    head, *rest = word.split("-")
    plain = head[:1].isupper() and head.isalpha() and (len(head) == 1 or head[1:].islower())
    plain = plain and all(part.isalpha() and (part.islower() or part[1:].islower()) for part in rest)
    return word.lower() if plain else word


def _occurs(phrase: str, content: str) -> bool:
    """Whether content holds phrase exactly (case-sensitive), as whole words."""
    pattern = r"(?<![\w-])" + r"\s+".join(re.escape(part) for part in phrase.split()) + r"(?![\w-])"
    return re.search(pattern, content) is not None


# --- Headings and titles -------------------------------------------------------------------------
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
_TITLE_CONNECTORS = _word_set("of and for in on to the a with")
_DEICTIC = _word_set("you your yours yourself we our us i me my this these here")
_QUESTION_WORDS = _word_set("what why how when which who")
_SOURCE_WORDS = _word_set(
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
    if tag and _count(tag.group(1), content) < 3:
        text = text[tag.end() :]  # "DML: How to ..." -> "How to ...", but "GraphSAGE: Scaling up GNNs" keeps it
    subtitled = _SUBTITLE.match(text)
    if subtitled and not _HOW_TO.match(text):
        head = subtitled.group(1).strip()
        one_word_ok = len(words(head)) == 1 and _is_technical(head)
        text = head if len(words(head)) >= 2 or one_word_ok else subtitled.group(2)
    text = _TITLE_GUIDE.sub("", text).rstrip(" .!")
    goal = bool(_HOW_TO.match(text))
    text = _HOW_TO.sub("", text).rstrip("?") if goal else text
    tokens = words(text)
    while len(tokens) > 2 and _cannot_end(tokens[-1].lower()) and text.endswith(tokens[-1]):
        text = text[: -len(tokens[-1])].rstrip()  # "LLM Agents Demystified" -> "LLM Agents"
        tokens = tokens[:-1]
    if not tokens or "?" in text or "," in text or _LISTICLE.match(text):
        return TitleTopic()
    if not (2 <= len(tokens) <= 15 or (one_word_ok and len(tokens) == 1)):
        return TitleTopic()
    lowered = {token.lower() for token in tokens}
    if lowered & (_CHROME | _SOURCE_WORDS | _QUESTION_WORDS) or any(_is_glued(token) for token in tokens):
        return TitleTopic()
    goal = goal or (tokens[0].lower() in _VERB_BASES and text.split()[0].lower() == tokens[0].lower())
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
        text = head if len(words(head)) >= 2 or _is_technical(head) else subtitled.group(2)
    text = _TITLE_GUIDE.sub("", text)
    tokens = words(text)
    if not 1 <= len(tokens) <= 8 or "?" in text or "," in text:
        return None
    lowered = [token.lower() for token in tokens]
    author_words = {word.lower() for word in words(author or "")}
    unusable = _DEICTIC | _CHROME | _SOURCE_WORDS | _QUESTION_WORDS | author_words | {"by"}
    if set(lowered) & unusable or any(_is_glued(token) for token in tokens):
        return None
    if lowered[0] in _VERB_BASES or lowered[0] in _VERB_FORMS or lowered[0] in STOPWORDS - {"a", "an", "the"}:
        return None
    content_words = [token for token in lowered if token not in STOPWORDS and not token.isdigit()]
    if not content_words or all(token in _GENERIC_NOUNS | _VAGUE | _ADJECTIVES for token in content_words):
        return None
    if (len(tokens) == 1 and not _is_technical(tokens[0], capital_counts=False)) or _looks_like_name(tokens, content):
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
    return not any(_occurs(token.lower(), content) for token in tokens)


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
        if run - index >= 2 and _count(" ".join(tokens[index:run]), content, mid_sentence=True):
            index = run
            continue
        run = _capitalised_run(tokens, index, connectors=False)
        if run - index >= 2 and not any(_count(_lower_if_plain(token), content) for token in tokens[index:run]):
            index = run
            continue
        for position in range(index, max(run, index + 1)):
            token = tokens[position]
            lowered = _lower_if_plain(token)
            if lowered == token:
                continue
            plain = _count(lowered, content)
            # Lowered: an opening word the content does not capitalise mid-sentence more often than it writes
            # it in lower case, any word it writes in lower case at least as often as it capitalises it
            # mid-sentence, and, in a Title Case title, one it never writes ("Ultra-Efficiently").
            if (
                (position == 0 and (lowered in STOPWORDS or plain >= _count(token, content, mid_sentence=True)))
                or (plain and plain >= _count(token, content, mid_sentence=True))
                or (title_case and not (plain or _count(token, content)))
            ):
                natural[position] = lowered
        index = max(run, index + 1)
    return " ".join(natural)


def _capitalised_run(tokens: list[str], start: int, connectors: bool) -> int:
    """The end of the run of capitalised plain words from start (with connector words inside, if asked)."""
    end = start
    while end < len(tokens) and (
        _lower_if_plain(tokens[end]) != tokens[end]
        or (connectors and end > start and end + 1 < len(tokens) and tokens[end] in _TITLE_CONNECTORS)
    ):
        end += 1
    while end > start and tokens[end - 1] in _TITLE_CONNECTORS:
        end -= 1
    return end


def _count(word: str, content: str, mid_sentence: bool = False) -> int:
    """Whole-word, case-sensitive occurrences of word in content; mid_sentence: only after a lowercase word."""
    core = word.strip(".,:;!?\"'()")
    if not core:
        return 0
    pattern = r"\s+".join(re.escape(part) for part in core.split())
    found = re.finditer(r"(?<![\w.-])" + pattern + r"(?![\w-]|\.\w)", content)  # not in "llama.cpp"
    if not mid_sentence:
        return sum(1 for _ in found)
    return sum(1 for match in found if _AFTER_LOWERCASE_WORD.search(content, max(0, match.start() - 40), match.start()))
