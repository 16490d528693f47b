"""The words topic extraction reads text by: word lists, the forms derived from them, and tests on one word.

Key phrases, titles and headings, and instruction validation all use these, so a model's instruction is
checked against the same words and stopwords the templates were written from. Everything is short word
lists and suffix rules (no tagger), so it is deterministic and fast.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Letters and digits, with inner hyphens kept ("fine-tuning"); apostrophes split ("model's" -> model, s).
WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")


def words(text: str) -> list[str]:
    """The words of text: runs of letters and digits, inner hyphens kept."""
    return WORD.findall(text)


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of a word list, as a set."""
    return frozenset(text.split())


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


VERB_FORMS = _inflected(_VERB_LIST) | word_set("fits works")  # -s forms of ambiguous verbs, rarely nouns
AMBIGUOUS_VERBS = frozenset(_AMBIGUOUS_VERB_LIST.split())
# Their -s forms before another noun are verbs: a plural rarely modifies a noun ("indexes points").
AMBIGUOUS_THIRD_PERSON = _inflected(_AMBIGUOUS_VERB_LIST) - AMBIGUOUS_VERBS
VERB_BASES = frozenset(_VERB_LIST.split()) | AMBIGUOUS_VERBS | {"architect", "uncensor", "upskill"}
PAST_FORMS = (_inflected(_VERB_LIST + _AMBIGUOUS_VERB_LIST, third_person=False, past=True) - VERB_BASES) | frozenset(
    _IRREGULAR_PAST_LIST.split()
)
PARTICIPLES = frozenset(_PARTICIPLE_LIST.split())
GERUNDS = _inflected(_VERB_LIST, third_person=False, gerund=True) - frozenset(_NOUN_GERUND_LIST.split())
_ADVERBS = frozenset(_ADVERB_LIST.split())
_LY_NOUNS = frozenset(_LY_NOUN_LIST.split())
ADJECTIVES = frozenset(_ADJECTIVE_LIST.split())
VAGUE = frozenset(_VAGUE_LIST.split())
GENERIC_NOUNS = frozenset(_GENERIC_NOUN_LIST.split())
CHROME = frozenset(_CHROME_LIST.split())
_GLUE_WORDS = STOPWORDS | CHROME
_NOT_PAST = frozenset({"embed", "hundred", "shred", "unembed"})
_ADJECTIVE_SUFFIXES = ("ous", "ful", "able", "ible", "less")
_NOUN_EXCEPTIONS = word_set(
    "variable variables table tables cable executable deliverable objective alternative directive primitive "
    "derivative initiative incentive perspective archive executive narrative representative"
)
# The stopword just before a word that makes it a verb ("to merge", "we merge") ...
VERB_CONTEXT = word_set(
    "to can could will would should must may might shall cannot we you they i he she it not t ll please let lets "
    "also then just simply always never often usually easily directly"
)
# ... or an adjective ("the merged model", "of quantized weights").
MODIFIER_CONTEXT = word_set(
    "a an the this these those its their our your my his her each every some any all no both many few several more "
    "most other such of in on with for from by into onto over under about between via per within across "
    "through"
)
_DIGITS_GLUED = re.compile(r"^\d+[^\W\d_]{4,}")  # "92mBASELINE", "15601See": a number run into a word
_TRAILING_CAPITAL = re.compile(r"[a-z]{3}[A-Z]$|[a-z]{4}\d{2,}$")  # "DatabasesA Step", "Learning10 stories"
_CAMEL_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_MEDIUM_PUBLICATION = re.compile(r"[a-z]{2}in[A-Z][a-z]")  # "Paul IusztininDecoding ML": name + "in" + publication


def cannot_end(word: str) -> bool:
    """Whether a lowercased word cannot close a noun phrase: an adjective, a participle or a past form."""
    if word in ADJECTIVES or word in PARTICIPLES or word in PAST_FORMS or looks_past(word):
        return True
    return (word.endswith(_ADJECTIVE_SUFFIXES) and word not in _NOUN_EXCEPTIONS) or _is_ive_adjective(word)


def _is_ive_adjective(word: str) -> bool:
    return len(word) > 5 and word.endswith("ive") and word not in _NOUN_EXCEPTIONS


def looks_past(word: str) -> bool:
    """An -ed form by its spelling ("answered", not "speed" or "embed")."""
    return len(word) > 4 and word.endswith("ed") and not word.endswith("eed") and word not in _NOT_PAST


def breaks_phrase(word: str) -> bool:
    """Numbers, ids and hashes, code variables, verbs, adverbs, chrome and glued chrome end a phrase."""
    lowered = word.lower()
    if 2 * sum(char.isdigit() for char in word) > len(word) or (len(word) == 1 and word.islower()):
        return True
    if lowered in VERB_FORMS or lowered in _ADVERBS or lowered in CHROME or _DIGITS_GLUED.match(word):
        return True
    if lowered.endswith("ly") and lowered not in _LY_NOUNS and "-" not in lowered:
        return True
    return is_glued(word)


@lru_cache(maxsize=65536)
def is_glued(word: str) -> bool:
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


def is_technical(word: str, capital_counts: bool = True) -> bool:
    """Acronyms and CamelCase (LLM, QLoRA, PyTorch), hyphenated or digit-bearing terms, and, where a capital
    does not just open a sentence, proper nouns (Qdrant)."""
    return (
        sum(char.isupper() for char in word) >= 2
        or (capital_counts and word[:1].isupper())
        or "-" in word
        or (any(char.isdigit() for char in word) and any(char.isalpha() for char in word))
    )


def singular(word: str) -> str:
    """A plural's singular by its spelling ("models" -> "model"; "loss", "bus" stay)."""
    return word[:-1] if word.endswith("s") and not word.endswith("ss") and len(word) > 3 else word
