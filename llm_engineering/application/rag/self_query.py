"""Self-query: ask the LLM who the question's author is, and turn a known author into a search filter.

Unlike the book, the read path never creates users: an extracted name that is not in the warehouse
simply means no filter. A small model's output is validated (a name must appear in the question);
anything unusable falls back to the plain query and says why in `query.metadata["self_query"]`. With the
capability in `auto` mode a probe (short calls, its verdict cached per model) decides whether the model is
asked at all (`capabilities.py`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from functools import partial

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
from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.domain.documents import UserDocument
from llm_engineering.domain.exceptions import InvalidDocumentError
from llm_engineering.domain.names import split_user_full_name
from llm_engineering.domain.prompts import SELF_QUERY_NONE, STOP_SEQUENCES, format_self_query_prompt
from llm_engineering.domain.queries import Query

_SELF_INTRODUCTION = re.compile(
    r"^\s*(?:I am|I'm|I\u2019m|My name is|This is)\s+(?P<name>[A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){1,3})\s*[.,:;!-]+\s*(?P<rest>.*)$",
    re.DOTALL,
)
_NAME = re.compile(r"^[^\W\d_][\w.'-]*(?: [^\W\d_][\w.'-]*){1,3}$")
_PARAMETERS = GenerationParameters(max_new_tokens=12, temperature=0.0, top_p=1.0, stop=("\n", *STOP_SEQUENCES))

UserLookup = Callable[[str, str], UserDocument | None]
# The probe: questions whose right answers are known and take a few tokens, asked until one is answered
# wrong. No name comes first: weak models fail it (they continue the text), so they cost one call. The
# name is needed too: the 270M base model on llama.cpp copies it right but writes text for the other.
PROBE_CASES: tuple[tuple[str, tuple[str, str | None]], ...] = (
    ("Write a paragraph about vector databases for beginners.", ("none", None)),
    ("My name is Lena Fischer. Write a paragraph about unit tests.", ("name", "Lena Fischer")),
)
_PROBE_PARAMETERS = GenerationParameters(max_new_tokens=8, temperature=0.0, top_p=1.0, stop=("\n", *STOP_SEQUENCES))


def find_user_by_name(documents: DocumentRepository, first_name: str, last_name: str) -> UserDocument | None:
    """The warehouse user with this name, or None; never creates one."""
    return documents.find(UserDocument, first_name=first_name, last_name=last_name)


def split_self_introduction(question: str) -> tuple[str, str] | None:
    """("Jane Doe", the rest) when the question opens with "I am Jane Doe." or "My name is Jane Doe,"; else None."""
    match = _SELF_INTRODUCTION.match(question)
    if match is None or not match.group("rest").strip():
        return None
    return match.group("name"), match.group("rest").strip()


def parse_author(raw: str, question: str) -> tuple[str, str | None]:
    """Classify an LLM answer: ("none", None), ("name", name), ("id", id) or ("invalid", reason)."""
    first_line = raw.strip().splitlines()[0] if raw.strip() else ""
    answer = first_line.strip().strip("\"'`.,;: ").removeprefix("Answer:").strip()
    if not answer:
        return "invalid", "empty answer"
    if answer.lower() == SELF_QUERY_NONE:
        return "none", None
    if answer.isdigit() or _is_uuid(answer):
        if answer.lower() not in question.lower():
            return "invalid", f"id {answer!r} does not appear in the question"
        return "id", answer
    if not _NAME.match(answer):
        return "invalid", f"{answer[:60]!r} is not a person's name"
    if answer.lower() not in question.lower():
        # A small model often invents or copies a few-shot name: only names the user wrote are trusted.
        return "invalid", f"name {answer!r} does not appear in the question"
    return "name", answer


class SelfQuery:
    """Extracts the author from a query. With `llm=None` it is a pass-through (like the book's mock mode)."""

    def __init__(
        self,
        llm: LLMClient | None,
        documents: DocumentRepository | None = None,
        find_user: UserLookup | None = None,
        mode: CapabilityMode = "on",
        memory: ProbeMemory | None = None,
        probe_timeout_s: float = PROBE_TIMEOUT_S,
    ):
        """`documents` resolves the authors named (by id, and by name unless `find_user` is given); with
        neither no author is known, so no query gets a filter (a capability probe needs none).
        `mode`, `memory` and `probe_timeout_s` set the capability probe (see `capabilities.Capability`)."""
        self.llm = llm
        self.documents = documents
        if find_user is None and documents is not None:
            find_user = partial(find_user_by_name, documents)
        self.find_user = find_user
        self.capability = Capability(
            "self-query",
            mode,
            self.probe if llm is not None else None,
            probe_key=probe_id(
                [(format_self_query_prompt(question), answer) for question, answer in PROBE_CASES], _PROBE_PARAMETERS
            ),
            memory=memory,
            probe_timeout_s=probe_timeout_s,
            model=(lambda: llm.model_id) if llm is not None else None,  # a switched model gets its own decision
        )

    def probe(self) -> ProbeResult:
        """Ask the probe questions, one short call each, until one is answered wrong; the model passes when it
        names the writer, and only then."""
        assert self.llm is not None
        for question, expected in PROBE_CASES:
            response = self.llm.chat([ChatMessage("user", format_self_query_prompt(question))], _PROBE_PARAMETERS)
            if parse_author(response.text, question) != expected:
                return ProbeResult(False, f"{question[:32]!r} gave {response.text.strip()[:40]!r}")
        return ProbeResult(True, f"{len(PROBE_CASES)} of {len(PROBE_CASES)} probe questions right")

    def generate(self, query: Query) -> Query:
        """The query with `author_id`/`author_full_name` set when a known author is named; a report in metadata.

        Without a capable LLM, a plain self-introduction at the start ("I am Jane Doe. ...") still names the
        author: it is matched by a rule, looked up, and removed from the text that is searched.
        """
        if self.llm is None:
            return self._without_llm(query, "no LLM configured for self-query")
        decision = self.capability.decide()
        if not decision.enabled:
            return self._without_llm(query, decision.reason)
        try:
            response = self.llm.chat([ChatMessage("user", format_self_query_prompt(query.content))], _PARAMETERS)
        except LLMError as error:
            return self._report(
                query,
                status="fallback",
                reason=f"LLM error: {error}",
                llm_unavailable=isinstance(error, LLMUnavailableError),
            )
        kind, value = parse_author(response.text, query.content)
        if kind == "none":
            return self._report(query, status="no_author", raw=response.text)
        if kind == "invalid":
            return self._report(query, status="fallback", reason=value, raw=response.text)
        user = self._lookup(kind, value or "")
        if user is None:
            return self._report(query, status="unknown_author", reason=f"{value!r} is not in the warehouse")
        query.author_id = user.id
        query.author_full_name = user.full_name
        return self._report(query, status="author", author=user.full_name)

    def _without_llm(self, query: Query, why: str) -> Query:
        introduction = split_self_introduction(query.content)
        if introduction is None:
            return self._report(query, status="skipped", reason=why)
        name, remainder = introduction
        user = self._lookup("name", name)
        if user is None:
            return self._report(
                query, status="skipped", reason=f"{why}; {name!r} (self-introduction) is not in the warehouse"
            )
        query.author_id = user.id
        query.author_full_name = user.full_name
        query.content = remainder
        return self._report(
            query, status="author", author=user.full_name, reason=f"self-introduction, no LLM call ({why})"
        )

    def _lookup(self, kind: str, value: str) -> UserDocument | None:
        if kind == "id":
            if self.documents is None or not _is_uuid(value):
                return None
            return self.documents.find(UserDocument, id=value)
        try:
            first_name, last_name = split_user_full_name(value)
        except InvalidDocumentError:
            return None
        return self.find_user(first_name, last_name) if self.find_user is not None else None

    @staticmethod
    def _report(query: Query, status: str, **details: object) -> Query:
        report = {"status": status, **{key: value for key, value in details.items() if value is not None}}
        query.metadata["self_query"] = report
        if status == "fallback":
            logger.info("Self-query fell back to the plain query: {}", report.get("reason"))
        return query


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
