"""Query expansion: the original question plus n-1 LLM rewordings, validated.

A rewording is kept only when it is a complete question or request (ends with ?, . or !, at least four
words), stays on topic, and differs from the original and from the other rewordings. A weak model's
empty, repeated, echoed, cut-off or rambling lines are dropped. When nothing usable remains, retrieval
goes on with the original question alone and the report says so. With the capability in `auto` mode a
probe (one short call, its verdict cached per model) decides whether the model is asked at all (see
`capabilities.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from loguru import logger

from llm_engineering.application.errors import LLMError, LLMUnavailableError
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters, LLMClient
from llm_engineering.application.rag.capabilities import (
    PROBE_TIMEOUT_S,
    Capability,
    CapabilityMode,
    ProbeMemory,
    ProbeResult,
    probe_id,
)
from llm_engineering.domain.prompts import QUERY_EXPANSION_SEPARATOR, STOP_SEQUENCES, QueryExpansionPrompt
from llm_engineering.domain.queries import Query

_NUMBERING = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)]|q\d*:|question\s*\d*:|version\s*\d*:)\s*", re.IGNORECASE)
MAX_VARIANT_CHARS = 400
MIN_VARIANT_WORDS = 4
# Word-set overlap above which a rewording counts as the same question.
MAX_SIMILARITY = 0.8
PROBE_QUESTION = "How do I choose a chunk size for a retrieval system?"
# The probe asks for one rewording with the tokens a request gives each one: a model that can reword a
# question answers and stops; one that runs on (a base model continuing text) is cut off at that budget.
PROBE_VARIANTS = 1


@dataclass
class ExpansionReport:
    requested: int
    generated: int = 0
    status: str = "skipped"
    reason: str | None = None
    rejected: list[str] = field(default_factory=list)
    llm_unavailable: bool = False

    def as_dict(self) -> dict:
        report = {"requested": self.requested, "generated": self.generated, "status": self.status}
        if self.reason:
            report["reason"] = self.reason
        if self.rejected:
            report["rejected"] = self.rejected[:5]
        return report


def parse_variants(raw: str, original: str, wanted: int) -> tuple[list[str], list[str]]:
    """Usable rewordings from an LLM answer (at most `wanted`), and the rejected pieces."""
    pieces = raw.split(QUERY_EXPANSION_SEPARATOR) if QUERY_EXPANSION_SEPARATOR in raw else raw.splitlines()
    seen = {_normalise(original)}
    kept_word_sets = [_content_words(original)]
    # A rewording keeps at least one content word of the question; anything else is off topic.
    original_words = _content_words(original)
    accepted: list[str] = []
    rejected: list[str] = []
    for piece in pieces:
        text = _NUMBERING.sub("", piece.strip()).strip().strip("\"'").strip()
        if not text:
            continue
        key = _normalise(text)
        if (
            len(text) < 8
            or len(text) > MAX_VARIANT_CHARS
            or key in seen
            or text.lower().startswith(("question:", "rewrite the", "answer:", "#"))
            or QUERY_EXPANSION_SEPARATOR in text
            or not re.search(r"[^\W\d_]{3}", text)
            or not _content_words(text) & original_words
            or not _complete(text)
            or any(_similarity(_content_words(text), other) > MAX_SIMILARITY for other in kept_word_sets)
        ):
            rejected.append(text[:80])
            continue
        seen.add(key)
        kept_word_sets.append(_content_words(text))
        accepted.append(text)
        if len(accepted) == wanted:
            break
    return accepted, rejected


def _complete(text: str) -> bool:
    """A whole question or request: ends like a sentence and is long enough to mean something."""
    return text.rstrip()[-1:] in {"?", ".", "!"} and len(text.split()) >= MIN_VARIANT_WORDS


def _similarity(first: set[str], second: set[str]) -> float:
    return len(first & second) / len(first | second) if first and second else 0.0


class QueryExpansion:
    """Expands a query to `expand_to_n` queries (the original first). `llm=None` returns the original only.

    `mode` is the capability setting (RAG_QUERY_EXPANSION): `auto` probes the model once (or recalls its
    verdict from `memory`), `on` always asks it, `off` never does.
    """

    def __init__(
        self,
        llm: LLMClient | None,
        max_new_tokens_per_query: int = 32,
        mode: CapabilityMode = "on",
        memory: ProbeMemory | None = None,
        probe_timeout_s: float = PROBE_TIMEOUT_S,
    ):
        self.llm = llm
        self.max_new_tokens_per_query = max_new_tokens_per_query
        self.capability = Capability(
            "query expansion",
            mode,
            self.probe if llm is not None else None,
            probe_key=probe_id(self._request(PROBE_QUESTION, PROBE_VARIANTS)),
            memory=memory,
            probe_timeout_s=probe_timeout_s,
            model=(lambda: llm.model_id) if llm is not None else None,  # a switched model gets its own decision
        )

    def probe(self) -> ProbeResult:
        """Ask once for a rewording of a fixed question; the model passes when it is usable (see `parse_variants`)."""
        raw = self._ask(PROBE_QUESTION, PROBE_VARIANTS)
        variants, rejected = parse_variants(raw, PROBE_QUESTION, PROBE_VARIANTS)
        detail = f"{len(variants)} of {PROBE_VARIANTS} rewordings usable"
        if rejected:
            detail += f"; rejected {rejected[0][:40]!r}"
        return ProbeResult(passed=len(variants) == PROBE_VARIANTS, detail=detail)

    def _ask(self, question: str, n_variants: int) -> str:
        assert self.llm is not None
        return self.llm.chat(*self._request(question, n_variants)).text

    def _request(self, question: str, n_variants: int) -> tuple[list[ChatMessage], GenerationParameters]:
        prompt = QueryExpansionPrompt(n_variants=n_variants).render(question)
        parameters = GenerationParameters(
            max_new_tokens=self.max_new_tokens_per_query * n_variants, temperature=0.0, top_p=1.0, stop=STOP_SEQUENCES
        )
        return [ChatMessage("user", prompt)], parameters

    def generate(self, query: Query, expand_to_n: int) -> tuple[list[Query], ExpansionReport]:
        """`[query, *variants]` (variants keep the author filter) and a report of what happened."""
        if expand_to_n < 1:
            raise ValueError(f"expand_to_n must be >= 1, got {expand_to_n}")
        report = ExpansionReport(requested=expand_to_n)
        if expand_to_n == 1:
            report.reason = "one query requested"
            return [query], report
        if self.llm is None:
            report.reason = "no LLM configured for query expansion"
            return [query], report
        decision = self.capability.decide()
        if not decision.enabled:
            report.reason = decision.reason
            return [query], report
        try:
            raw = self._ask(query.content, expand_to_n - 1)
        except LLMError as error:
            report.status, report.reason = "fallback", f"LLM error: {error}"
            report.llm_unavailable = isinstance(error, LLMUnavailableError)
            logger.info("Query expansion fell back to the original query: {}", report.reason)
            return [query], report
        variants, rejected = parse_variants(raw, query.content, expand_to_n - 1)
        report.generated, report.rejected = len(variants), rejected
        if not variants:
            report.status, report.reason = "fallback", "the LLM returned no usable rewording"
            logger.info("Query expansion fell back to the original query: {}", report.reason)
        else:
            report.status = "expanded" if len(variants) == expand_to_n - 1 else "partial"
        return [query, *(query.replace_content(text) for text in variants)], report


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


_STOPWORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "are",
        "was",
        "what",
        "why",
        "how",
        "who",
        "when",
        "which",
        "with",
        "about",
        "from",
        "that",
        "this",
        "into",
        "your",
        "you",
        "can",
        "does",
        "did",
        "could",
        "would",
        "should",
        "will",
        "have",
        "has",
        "had",
        "not",
        "but",
        "any",
        "all",
        "its",
        "our",
        "their",
        "there",
        "here",
        "then",
        "than",
    ]
)


def _content_words(text: str) -> set[str]:
    """Crude stems (5-letter prefixes) of the words that carry meaning."""
    return {word[:5] for word in _normalise(text).split() if len(word) >= 3 and word not in _STOPWORDS}
