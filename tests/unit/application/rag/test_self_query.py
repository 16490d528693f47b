import uuid

import pytest

from llm_engineering.application.errors import LLMResponseError, LLMUnavailableError
from llm_engineering.application.rag.self_query import SelfQuery, parse_author
from llm_engineering.domain.documents import UserDocument
from llm_engineering.domain.queries import Query
from tests.unit.application.rag.fakes import ScriptedLLM

QUESTION = "I am Mara Quillon, write a post about reranking."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mara Quillon", ("name", "Mara Quillon")),
        ("  mara quillon.\nextra line", ("name", "mara quillon")),
        ("NONE", ("none", None)),
        ("none.", ("none", None)),
    ],
)
def test_parse_author_accepts_names_from_the_question_and_none(raw, expected):
    assert parse_author(raw, QUESTION) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "### Response:", "Ada Quill", "4411", "I think the author is probably someone", "Mara"],
)
def test_parse_author_rejects_invented_or_malformed_answers(raw):
    kind, reason = parse_author(raw, QUESTION)
    assert kind == "invalid"
    assert reason


def test_numeric_id_must_appear_in_the_question():
    assert parse_author("4411", "user 4411 here, write about tests") == ("id", "4411")


class _Users:
    def __init__(self, *users: UserDocument):
        self.users = users
        self.lookups: list[tuple[str, str]] = []

    def __call__(self, first_name: str, last_name: str) -> UserDocument | None:
        self.lookups.append((first_name, last_name))
        return next((u for u in self.users if (u.first_name, u.last_name) == (first_name, last_name)), None)


def test_known_author_becomes_the_filter():
    mara = UserDocument(id=uuid.uuid4(), first_name="Mara", last_name="Quillon")
    users = _Users(mara)
    query = SelfQuery(ScriptedLLM("Mara Quillon"), find_user=users).generate(Query.from_str(QUESTION))
    assert query.author_id == mara.id
    assert query.author_full_name == "Mara Quillon"
    assert query.metadata["self_query"] == {"status": "author", "author": "Mara Quillon"}


def test_unknown_author_gives_no_filter_and_creates_nobody():
    users = _Users()
    query = SelfQuery(ScriptedLLM("Mara Quillon"), find_user=users).generate(Query.from_str(QUESTION))
    assert query.author_id is None
    assert query.metadata["self_query"]["status"] == "unknown_author"
    assert users.lookups == [("Mara", "Quillon")]


def test_unusable_output_falls_back_and_says_why():
    query = SelfQuery(ScriptedLLM("### Response:"), find_user=_Users()).generate(Query.from_str(QUESTION))
    assert query.author_id is None
    report = query.metadata["self_query"]
    assert report["status"] == "fallback"
    assert "not a person's name" in report["reason"]
    assert report["raw"] == "### Response:"


def test_llm_errors_fall_back_and_flag_unavailability():
    down = SelfQuery(ScriptedLLM(LLMUnavailableError("refused")), find_user=_Users()).generate(Query.from_str("x y"))
    assert down.metadata["self_query"]["status"] == "fallback"
    assert down.metadata["self_query"]["llm_unavailable"] is True
    bad = SelfQuery(ScriptedLLM(LLMResponseError("400")), find_user=_Users()).generate(Query.from_str("x y"))
    assert bad.metadata["self_query"]["llm_unavailable"] is False


def test_without_llm_it_is_a_pass_through():
    query = SelfQuery(None, find_user=lambda first, last: None).generate(Query.from_str(QUESTION))
    assert query.author_id is None
    assert query.metadata["self_query"]["status"] == "skipped"


def test_the_prompt_carries_the_question():
    llm = ScriptedLLM("none")
    SelfQuery(llm, find_user=_Users()).generate(Query.from_str(QUESTION))
    assert QUESTION in llm.prompts[0]


def test_without_a_capable_llm_a_self_introduction_still_names_the_author():
    from llm_engineering.application.rag.self_query import split_self_introduction

    assert split_self_introduction("I am Mara Quillon. Write a post on reranking.") == (
        "Mara Quillon",
        "Write a post on reranking.",
    )
    assert split_self_introduction("My name is Paul Iusztin, draft a post about RAG") == (
        "Paul Iusztin",
        "draft a post about RAG",
    )
    assert split_self_introduction("I am sure reranking helps.") is None
    assert split_self_introduction("Write about Mara Quillon's notes.") is None

    mara = UserDocument(first_name="Mara", last_name="Quillon")
    found = SelfQuery(None, find_user=lambda first, last: mara if (first, last) == ("Mara", "Quillon") else None)
    query = found.generate(Query.from_str("I am Mara Quillon. Write a post on reranking."))
    assert (query.author_id, query.author_full_name, query.content) == (
        mara.id,
        "Mara Quillon",
        "Write a post on reranking.",
    )
    assert query.metadata["self_query"]["status"] == "author"
    assert "no LLM call" in query.metadata["self_query"]["reason"]
    stranger = found.generate(Query.from_str("I am Jane Doe. Write a post."))
    assert stranger.author_id is None and stranger.content == "I am Jane Doe. Write a post."
    assert stranger.metadata["self_query"]["status"] == "skipped"
