"""The author's passage as an answer (offline generation): structure kept, site chrome dropped."""

from __future__ import annotations

from llm_engineering.application.datasets.generation import passage_answer, rejected_answer_problem


def test_paragraphs_and_code_lines_are_kept():
    text = "First paragraph here.  \n\n```\nx = 1\n\n\ny = 2\n```\n\nLast one."
    assert passage_answer(text) == "First paragraph here.\n\n```\nx = 1\n\ny = 2\n```\n\nLast one."


def test_short_unpunctuated_lines_and_platform_notices_are_dropped():
    text = (
        "Share this post\n\nCopy link\n\nJan 01, 2024\n\nRerankers read query and passage together.\n\n"
        "This site requires JavaScript to run correctly. Please turn on JavaScript.\n\nReady for more?\n\n"
        "Privacy ∙ Terms ∙ Collection notice"
    )
    assert passage_answer(text) == "Rerankers read query and passage together."


def test_short_lines_inside_code_blocks_stay():
    text = "Setup:\n\n```\nimport os\n\nrun()\n```"
    assert passage_answer(text) == text


def test_only_chrome_gives_an_empty_answer():
    assert passage_answer("Subscribe\n\nSign in\n\nFacebook") == ""


def test_rejected_answers_must_be_real_and_different():
    chosen = "Rerankers read the query and the passage together, so they see relevance embeddings miss."
    assert rejected_answer_problem("Too short.", chosen) == "too_short"
    assert rejected_answer_problem("the model " * 20, chosen) == "repetitive"
    assert rejected_answer_problem(chosen.upper(), chosen) == "same_as_chosen"
    assert (
        rejected_answer_problem("A reranker sorts retrieved documents again using a second model score.", chosen)
        is None
    )
