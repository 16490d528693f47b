"""Tolerant parsing of teacher replies (fences, prose, trailing commas, partial lists) and the verbatim check."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from llm_engineering.application.datasets.parsing import (
    InstructionAnswer,
    ParseResult,
    PreferenceTriple,
    extract_json,
    find_verbatim,
    parse_instruction_pairs,
    parse_preference_triples,
)

PAIRS = [
    {"instruction": "Explain the concept of an LLM Twin.", "answer": "An LLM Twin is an AI character."},
    {"instruction": "Describe RAG.", "answer": "RAG retrieves context before generating."},
]
EXPECTED_PAIRS = [
    InstructionAnswer(instruction="Explain the concept of an LLM Twin.", answer="An LLM Twin is an AI character."),
    InstructionAnswer(instruction="Describe RAG.", answer="RAG retrieves context before generating."),
]


# --- extract_json ---------------------------------------------------------------------------------------
def test_extract_json_reads_plain_json():
    assert extract_json('{"a": [1, 2]}') == {"a": [1, 2]}


def test_extract_json_reads_a_fenced_block():
    text = 'Here you go:\n```json\n{"a": 1}\n```\nHope this helps!'
    assert extract_json(text) == {"a": 1}


def test_extract_json_reads_a_fence_without_language():
    assert extract_json('```\n[{"a": 1}]\n```') == [{"a": 1}]


def test_extract_json_finds_the_json_inside_prose():
    text = 'Sure! Below are the pairs you asked for [5 in total]:\n{"a": {"b": "c"}}\nLet me know.'
    assert extract_json(text) == {"a": {"b": "c"}}


def test_extract_json_ignores_brackets_inside_strings():
    text = 'Result: {"a": "a } and a ] inside", "b": "escaped \\" quote {"} trailing prose'
    assert extract_json(text) == {"a": "a } and a ] inside", "b": 'escaped " quote {'}


def test_extract_json_tolerates_trailing_commas():
    assert extract_json('{"a": [1, 2, ], "b": {"c": 3,},}') == {"a": [1, 2], "b": {"c": 3}}


def test_extract_json_keeps_commas_inside_strings():
    assert extract_json('{"a": "x, ]", "b": [1,],}') == {"a": "x, ]", "b": [1]}


def test_extract_json_closes_a_reply_cut_at_the_token_limit():
    text = '{"pairs": [{"instruction": "a", "answer": "b"}, {"instruction": "c", "ans'
    assert extract_json(text) == {"pairs": [{"instruction": "a", "answer": "b"}]}


def test_extract_json_without_brackets_says_no_json():
    with pytest.raises(ValueError) as caught:
        extract_json("I cannot help with that.")
    assert caught.value.reason == "no_json"


def test_extract_json_of_an_empty_reply_says_no_json():
    with pytest.raises(ValueError) as caught:
        extract_json("   ")
    assert caught.value.reason == "no_json"


def test_extract_json_of_malformed_json_says_invalid_json():
    with pytest.raises(ValueError) as caught:
        extract_json("{'instruction': 'single quotes are not JSON'}")
    assert caught.value.reason == "invalid_json"


# --- parse_instruction_pairs ----------------------------------------------------------------------------
def test_parses_the_books_wrapper():
    result = parse_instruction_pairs(json.dumps({"instruction_answer_pairs": PAIRS}))
    assert result == ParseResult(items=EXPECTED_PAIRS, invalid_items=0, failure=None)
    assert result.ok


def test_parses_a_top_level_list():
    assert parse_instruction_pairs(json.dumps(PAIRS)) == ParseResult(items=EXPECTED_PAIRS)


def test_parses_the_pairs_key():
    assert parse_instruction_pairs(json.dumps({"pairs": PAIRS})).items == EXPECTED_PAIRS


def test_parses_a_single_object():
    result = parse_instruction_pairs('{"instruction": "Describe RAG.", "answer": "It retrieves."}')
    assert result == ParseResult(items=[InstructionAnswer(instruction="Describe RAG.", answer="It retrieves.")])


def test_accepts_output_for_answer_and_strips_whitespace():
    result = parse_instruction_pairs('[{"instruction": "  Describe RAG.\\n", "output": " It retrieves. "}]')
    assert result.items == [InstructionAnswer(instruction="Describe RAG.", answer="It retrieves.")]


def test_parses_fenced_json_with_prose_and_trailing_commas():
    text = "Here are the pairs:\n```json\n" + json.dumps({"instruction_answer_pairs": PAIRS})[:-2] + ",],}\n```"
    assert parse_instruction_pairs(text) == ParseResult(items=EXPECTED_PAIRS)


def test_keeps_the_good_items_of_a_partial_list():
    items = [*PAIRS, {"instruction": "   ", "answer": "blank instruction"}]
    result = parse_instruction_pairs(json.dumps({"instruction_answer_pairs": items}))
    assert result == ParseResult(items=EXPECTED_PAIRS, invalid_items=1, failure=None)


def test_counts_items_of_the_wrong_type_as_invalid():
    items = [PAIRS[0], "not an object", {"instruction": "No answer"}, {"instruction": 3, "answer": "x"}]
    result = parse_instruction_pairs(json.dumps(items))
    assert result == ParseResult(items=EXPECTED_PAIRS[:1], invalid_items=3)


def test_only_invalid_items_is_wrong_schema():
    result = parse_instruction_pairs('[{"question": "a", "reply": "b"}]')
    assert result == ParseResult(items=[], invalid_items=1, failure="wrong_schema")


def test_reports_a_truncated_reply_and_keeps_its_complete_items():
    text = json.dumps({"instruction_answer_pairs": PAIRS})[:-30]
    result = parse_instruction_pairs(text)
    assert result == ParseResult(items=EXPECTED_PAIRS[:1], invalid_items=0, truncated=True)


@pytest.mark.parametrize(
    ("text", "failure"),
    [
        ("No JSON here.", "no_json"),
        ('{"instruction_answer_pairs": [{"instruction": "a", "answer": }]}', "invalid_json"),
        ('{"foo": 1}', "wrong_schema"),
        ('{"instruction_answer_pairs": "none"}', "wrong_schema"),
        ("42", "wrong_schema"),
        ('{"instruction_answer_pairs": []}', "empty"),
        ("[]", "empty"),
    ],
)
def test_failures_carry_their_reason(text, failure):
    assert parse_instruction_pairs(text) == ParseResult(items=[], invalid_items=0, failure=failure)


def test_a_renamed_list_key_is_accepted():
    assert parse_instruction_pairs(json.dumps({"qa_pairs": PAIRS})).items == EXPECTED_PAIRS


# --- parse_preference_triples ---------------------------------------------------------------------------
TRIPLE = PreferenceTriple(
    instruction="Describe RAG.", generated_answer="RAG is a retrieval method.", extracted_answer="RAG retrieves."
)


def test_parses_the_books_preference_triples():
    text = json.dumps(
        {
            "preference_triples": [
                {
                    "instruction": "Describe RAG.",
                    "generated_answer": "RAG is a retrieval method.",
                    "extracted_answer": "RAG retrieves.",
                }
            ]
        }
    )
    assert parse_preference_triples(text) == ParseResult(items=[TRIPLE])


def test_parses_a_list_of_rejected_chosen_items():
    text = '[{"instruction": "Describe RAG.", "rejected": "RAG is a retrieval method.", "chosen": "RAG retrieves."}]'
    assert parse_preference_triples(text) == ParseResult(items=[TRIPLE])


def test_preference_partial_list_counts_invalid_triples():
    text = (
        'Triples:\n```json\n{"preference_triples": ['
        '{"instruction": "Describe RAG.", "generated_answer": "RAG is a retrieval method.", '
        '"extracted_answer": "RAG retrieves."},'
        '{"instruction": "Missing the extract.", "generated_answer": "x"},]}\n```'
    )
    assert parse_preference_triples(text) == ParseResult(items=[TRIPLE], invalid_items=1)


def test_preference_wrong_schema_and_empty():
    assert parse_preference_triples('{"foo": 1}').failure == "wrong_schema"
    assert parse_preference_triples('{"preference_triples": []}').failure == "empty"


def test_models_reject_blank_fields():
    with pytest.raises(ValidationError):
        InstructionAnswer(instruction="Describe RAG.", answer="  \n")
    with pytest.raises(ValidationError):
        PreferenceTriple(instruction=" ", generated_answer="a", extracted_answer="b")


# --- find_verbatim --------------------------------------------------------------------------------------
SOURCE = "Intro text.  The LLM Twin\nmimics your   writing style. It\u2019s \u201cyours\u201d.\n"


def test_find_verbatim_exact_copy():
    start = SOURCE.index("Intro")
    assert find_verbatim("Intro text.", SOURCE) == (start, start + len("Intro text."))


def test_find_verbatim_ignores_whitespace_differences():
    span = find_verbatim("The LLM Twin mimics your writing\n style.", SOURCE)
    assert span == (13, 54)
    assert SOURCE[13:54] == "The LLM Twin\nmimics your   writing style."


def test_find_verbatim_ignores_typographic_quotes():
    span = find_verbatim('It\'s "yours".', SOURCE)
    assert span == (55, 68)
    assert SOURCE[55:68] == "It\u2019s \u201cyours\u201d."


def test_find_verbatim_returns_none_for_a_paraphrase_or_blank_quote():
    assert find_verbatim("The LLM Twin copies your writing style.", SOURCE) is None
    assert find_verbatim("   ", SOURCE) is None
