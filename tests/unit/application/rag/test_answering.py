import uuid

from llm_engineering.application.rag.answering import AnswerGenerator, build_rag_messages
from llm_engineering.application.rag.retriever import RetrievalResult, ScoredChunk
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk
from llm_engineering.domain.prompts import STOP_SEQUENCES
from tests.unit.application.rag.fakes import ScriptedLLM


def _chunk(text: str) -> EmbeddedArticleChunk:
    return EmbeddedArticleChunk(
        content=text,
        embedding=None,
        platform="blog",
        document_id=uuid.uuid4(),
        author_id=uuid.uuid4(),
        author_full_name="Mara Quillon",
        link="https://blog.example/a",
    )


def test_the_prompt_numbers_the_passages_after_the_question():
    messages = build_rag_messages("Write about reranking", [_chunk("first passage"), _chunk("second passage")])
    assert [m.role for m in messages] == ["system", "user"]
    user = messages[1].content
    assert user.startswith("Write about reranking")
    assert "[1] first passage\n[2] second passage" in user


def test_no_passages_is_said_plainly():
    assert "No passages" in build_rag_messages("q", [])[1].content


def test_answer_carries_sources_and_generation_metadata():
    chunk = _chunk("passage")
    retrieval = RetrievalResult(chunks=[ScoredChunk(chunk, 0.8123456)], trace={"reranker": "x"})
    llm = ScriptedLLM("  The answer.  ")
    answer = AnswerGenerator(llm).generate("q", retrieval)
    assert answer.answer == "The answer."
    assert [source.model_dump() for source in answer.sources] == [
        {
            "chunk_id": str(chunk.id),
            "document_id": str(chunk.document_id),
            "category": "articles",
            "author": "Mara Quillon",
            "platform": "blog",
            "link": "https://blog.example/a",
            "score": 0.8123,
        }
    ]
    generation = answer.trace["generation"]
    assert generation["model_id"] == "scripted"
    assert generation["completion_tokens"] == 3
    assert answer.trace["retrieval"] == {"reranker": "x"}
    # A base model runs on into a new instruction block: the stop sequences end it.
    assert llm.parameters[0].stop == STOP_SEQUENCES
