"""The /rag trace carries the model reply's own figures, whether the guard kept it or not."""

from __future__ import annotations

import uuid

from llm_engineering.application.llm.client import GenerationParameters
from llm_engineering.application.rag.answering import AnswerGenerator
from llm_engineering.application.rag.retriever import RetrievalResult, ScoredChunk
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk
from llm_engineering.domain.serving import ServedShape
from tests.unit.application.rag.fakes import ScriptedLLM

PASSAGE = "Rerank the retrieved passages with a cross-encoder before you prompt, so the best context comes first."


def _retrieval() -> RetrievalResult:
    chunk = EmbeddedArticleChunk(
        content=PASSAGE,
        embedding=None,
        platform="blog",
        document_id=uuid.uuid4(),
        author_id=uuid.uuid4(),
        author_full_name="Mara Quillon",
        link="https://blog.example/a",
    )
    return RetrievalResult(chunks=[ScoredChunk(chunk, 0.9)], trace={"query": "Why rerank?"})


def test_a_kept_reply_has_its_words_grounding_and_repetition_in_the_trace():
    reply = "Rerank the retrieved passages with a cross-encoder before you prompt [1]."
    generation = AnswerGenerator(ScriptedLLM(reply)).generate("Why rerank?", _retrieval()).trace["generation"]
    assert generation["answer_source"] == "model"
    assert generation["reply"]["words"] == 12  # "cross-encoder" is two words, the citation one
    assert generation["reply"]["grounding"] == 1.0
    assert generation["reply"]["repetition"] == 0.0


def test_a_replaced_reply_keeps_its_own_figures_not_the_fallbacks():
    answer = AnswerGenerator(ScriptedLLM("Bananas grow on tall plants in warm tropical countries.")).generate(
        "Why rerank?", _retrieval()
    )
    generation = answer.trace["generation"]
    assert generation["answer_source"] == "extractive"
    assert generation["reply"]["grounding"] == 0.0
    assert generation["reply"]["words"] == 9
    assert generation["reply"]["text"] == "Bananas grow on tall plants in warm tropical countries."
    assert answer.answer != generation["reply"]["text"]


def test_the_prompt_shape_is_asked_per_model_and_recorded_in_the_trace():
    second = ScoredChunk(_retrieval().chunks[0].chunk.model_copy(update={"id": uuid.uuid4()}), 0.8)
    retrieval = RetrievalResult(chunks=[*_retrieval().chunks, second], trace={"query": "Why rerank?"})
    asked: list[str] = []

    def shape_for(model_id: str) -> ServedShape:
        asked.append(model_id)
        return ServedShape(max_context_chars=len(PASSAGE), min_new_tokens=30)  # room for one passage only

    reply = "Rerank the retrieved passages with a cross-encoder before you prompt [1]."
    llm = ScriptedLLM(reply, reply, reply)
    generation = AnswerGenerator(llm, shape_for=shape_for).generate("Why rerank?", retrieval).trace["generation"]
    assert asked == [llm.model_id]
    assert generation["passages_in_prompt"] == 1 and generation["passages_left_out"] == 1
    assert generation["context_chars"] == len(PASSAGE)
    assert generation["min_new_tokens"] == 30 and llm.parameters[-1].min_new_tokens == 30
    short = GenerationParameters(max_new_tokens=16)
    AnswerGenerator(llm, shape_for=shape_for).generate("Why rerank?", retrieval, short)
    assert llm.parameters[-1].min_new_tokens == 16, "never more than the request's max_new_tokens"
    wide = AnswerGenerator(llm).generate("Why rerank?", retrieval).trace["generation"]
    assert wide["passages_in_prompt"] == 2 and wide["min_new_tokens"] == 0
