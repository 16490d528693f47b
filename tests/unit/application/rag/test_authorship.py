"""Who wrote an answer: the guard's technical reasons in plain words, and the authorship `generate` returns."""

import pytest

from llm_engineering.application.rag.answering import AnswerGenerator, AnswerGuard, StreamedSources
from llm_engineering.application.rag.authorship import Authorship, authorship_of, plain_problem, plain_reason
from tests.unit.application.rag.fakes import OnePassageRetriever, ScriptedLLM, StreamingLLM

PASSAGE = (
    "Rerank the retrieved passages with a cross-encoder before you build the prompt. "
    "Keep only the best few passages, because short and relevant context makes small models look smart."
)
GROUNDED = "Rerank the retrieved passages with a cross-encoder before the prompt and keep only the best few [1]."
UNGROUNDED = "Bananas ripen faster next to apples in a warm kitchen, as my grandmother always said."


@pytest.mark.parametrize(
    ("guard_reason", "plain"),
    [
        ("the reply has fewer than 8 words", "was too short to say anything"),
        ("the reply restates the request (echo 0.91 >= 0.8)", "only restated the question"),
        ("the reply repeats itself (repetition 0.41 > 0.2)", "repeated itself"),
        ("the reply is not grounded in the passages (grounding 0.10 < 0.35)", "did not stick to the sources"),
        ("the reply is off the request's topic (relevance 0.20, best passage 0.70)", "was off the question's topic"),
        ("a reason added later", "did not pass the answer check"),
    ],
)
def test_each_guard_reason_has_plain_words_without_figures(guard_reason, plain):
    assert plain_problem(guard_reason) == plain
    sentence = plain_reason(guard_reason, "author_passages")
    assert sentence == f"The model's reply {plain}, so these are the author's own sentences from the sources."
    assert not any(character.isdigit() for character in sentence)


def test_a_reply_that_passed_has_no_reason_and_a_flagged_one_shown_anyway_says_so():
    assert plain_reason("passed", "model") is None and plain_reason(None, "model") is None
    flagged = plain_reason("the reply repeats itself (repetition 0.41 > 0.2)", "model")
    assert flagged is not None and flagged.startswith("The model's reply repeated itself;") and "shown" in flagged


def test_authorship_reads_the_generation_trace():
    quoted = authorship_of({"answer_source": "extractive", "guard": "the reply repeats itself (0.5)"}, "twin-v1")
    assert quoted == Authorship(
        "author_passages",
        "twin-v1",
        "The model's reply repeated itself, so these are the author's own sentences from the sources.",
    )
    assert authorship_of({"answer_source": "model", "guard": "passed"}, "twin-v1") == Authorship("model", "twin-v1")


def test_generate_says_the_model_wrote_a_grounded_reply():
    retrieval = OnePassageRetriever(content=PASSAGE).search_with_trace("Why rerank passages?", 1, 1)
    answer = AnswerGenerator(ScriptedLLM(GROUNDED)).generate("Why rerank passages?", retrieval)
    assert answer.trace["generation"]["guard"] == "passed"
    assert answer.authorship == Authorship("model", "scripted", None)


def test_generate_says_the_answer_quotes_the_author_when_the_reply_is_rejected():
    retrieval = OnePassageRetriever(content=PASSAGE).search_with_trace("Why rerank passages?", 1, 1)
    answer = AnswerGenerator(ScriptedLLM(UNGROUNDED), guard=AnswerGuard()).generate("Why rerank passages?", retrieval)
    assert answer.trace["generation"]["answer_source"] == "extractive"
    assert answer.authorship is not None and answer.authorship.written_by == "author_passages"
    assert answer.authorship.model == "scripted"
    assert answer.authorship.reason == (
        "The model's reply did not stick to the sources, so these are the author's own sentences from the sources."
    )


def test_the_stream_names_the_model_before_its_draft():
    retrieval = OnePassageRetriever(content=PASSAGE).search_with_trace("Why rerank passages?", 1, 1)
    first = next(AnswerGenerator(StreamingLLM([GROUNDED])).stream("Why rerank passages?", retrieval))
    assert isinstance(first, StreamedSources) and first.model == "scripted"
