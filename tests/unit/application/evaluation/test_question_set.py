"""The twin's question set (configs/twin_questions.yaml): valid, balanced, and held out from the book's datasets."""

from __future__ import annotations

import json

import pytest

from llm_engineering.application.errors import QuestionSetError
from llm_engineering.application.evaluation.question_set import (
    QUESTION_KINDS,
    TwinQuestion,
    load_question_set,
    near_duplicates,
    parse_question_set,
    token_jaccard,
)
from tests.conftest import HANDBOOK_DIR, PROJECT_ROOT

QUESTION_SET = PROJECT_ROOT / "configs" / "twin_questions.yaml"
DATASETS = ("instruct_datasets.json", "preference_datasets.json")
NEEDS_HANDBOOK = pytest.mark.skipif(
    not (HANDBOOK_DIR / "artifacts").is_dir(), reason=f"the book's data is not beside the project ({HANDBOOK_DIR})"
)


def _question(identifier: str = "q-1", kind: str = "how-to", text: str = "How do I rerank passages?") -> dict:
    return {"id": identifier, "kind": kind, "question": text, "links": ["https://blog.example/a"]}


def test_the_set_is_versioned_large_enough_and_balanced():
    question_set = load_question_set(QUESTION_SET)
    assert question_set.version >= 1
    assert len(question_set.questions) >= 30
    assert set(question_set.by_kind()) == set(QUESTION_KINDS)
    assert min(question_set.by_kind().values()) >= 8
    assert len({q.id for q in question_set.questions}) == len(question_set.questions)
    assert len({q.question for q in question_set.questions}) == len(question_set.questions)


def test_first_takes_the_leading_questions_in_file_order():
    question_set = load_question_set(QUESTION_SET)
    assert [q.id for q in question_set.first(3)] == [q.id for q in question_set.questions[:3]]
    assert len(question_set.first(None)) == len(question_set.questions)


def test_repeated_ids_unknown_kinds_and_missing_links_are_refused():
    with pytest.raises(QuestionSetError, match="repeated: q-1"):
        parse_question_set({"version": 1, "questions": [_question(), _question(text="Why rerank at all?")]})
    with pytest.raises(QuestionSetError, match="kind"):
        parse_question_set({"version": 1, "questions": [_question(kind="trivia")]})
    with pytest.raises(QuestionSetError, match="links"):
        parse_question_set({"version": 1, "questions": [{**_question(), "links": []}]})
    with pytest.raises(QuestionSetError, match="version"):
        parse_question_set({"questions": [_question()]})


def test_a_missing_or_malformed_file_is_a_question_set_error(tmp_path):
    with pytest.raises(QuestionSetError, match="not readable"):
        load_question_set(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("- just\n- a list\n")
    with pytest.raises(QuestionSetError, match="expected a mapping"):
        load_question_set(broken)


def test_near_duplicates_are_found_by_normalised_equality_or_token_jaccard():
    asked = [
        TwinQuestion(**_question("a", text="How do I rerank passages?")),
        TwinQuestion(**_question("b", text="Explain how the author develops secondary characters in the story.")),
        TwinQuestion(**_question("c", text="What is a frankenMoE router made of?")),
    ]
    instructions = ["how do I RERANK passages", "Explain how the author develops the secondary characters."]
    found = {identifier: score for identifier, _, score in near_duplicates(asked, instructions)}
    assert found["a"] == 1.0
    assert found["b"] >= 0.5
    assert "c" not in found
    assert token_jaccard("a b", "c d") == 0.0 and token_jaccard("", "") == 0.0


@NEEDS_HANDBOOK
def test_no_question_is_taken_from_the_books_datasets():
    instructions = []
    for name in DATASETS:
        data = json.loads((HANDBOOK_DIR / "artifacts" / name).read_text(encoding="utf-8"))
        for split in ("train", "test"):
            for part in (data.get(split) or {}).values():
                instructions += [sample["instruction"] for sample in part["samples"]]
    assert len(instructions) > 1000  # both datasets were read
    assert near_duplicates(load_question_set(QUESTION_SET).questions, instructions) == []


@NEEDS_HANDBOOK
def test_every_link_names_an_article_of_the_handbook():
    articles = json.loads((HANDBOOK_DIR / "warehouse" / "ArticleDocument.json").read_text(encoding="utf-8"))
    known = {article["link"] for article in articles}
    unknown = [(q.id, link) for q in load_question_set(QUESTION_SET).questions for link in q.links if link not in known]
    assert unknown == []
