"""One numbering: every [n] in an answer (the model's, streamed, or the extractive fallback's) is the source
numbered n in the API's sources list, whatever the passages' ranks."""

from __future__ import annotations

import re
import uuid

from llm_engineering.application.rag.answering import AnswerGenerator, StreamedAnswer, StreamedSources, StreamedText
from llm_engineering.application.rag.citations import context_blocks, source_numbers
from llm_engineering.application.rag.retriever import RetrievalResult, ScoredChunk, group_sources
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk
from tests.unit.application.rag.fakes import ScriptedLLM, StreamingLLM

A, B, C = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
AUTHOR = uuid.uuid4()
CITATION = re.compile(r"\[(\d+)\]")


def scored(document_id: uuid.UUID, text: str, score: float, index: int) -> ScoredChunk:
    chunk = EmbeddedArticleChunk(
        content=text,
        embedding=None,
        platform="blog",
        document_id=document_id,
        author_id=AUTHOR,
        author_full_name="Mara Quillon",
        link=f"https://blog.example/{document_id}",
        metadata={"chunk_index": index},
    )
    return ScoredChunk(chunk, score)


# Ranks interleave documents: A, B, A, C. Passage 4 (C) would have been "[4]" but C is the third source.
RANKED = [
    scored(A, "Rerank the passages before the prompt so that the best ones come first in it.", 0.9, 3),
    scored(B, "Sourdough bread needs a long and cold fermentation in the fridge overnight.", 0.8, 0),
    scored(A, "A cross encoder reads the question and each passage together and scores them.", 0.7, 1),
    scored(C, "Chunking along headings keeps every passage coherent for the reranker to score.", 0.6, 0),
]


def test_sources_are_numbered_by_document_in_rank_order():
    sources = group_sources(RANKED)
    assert [(source.number, source.document_id) for source in sources] == [(1, str(A)), (2, str(B)), (3, str(C))]
    numbers = source_numbers(RANKED)
    assert [numbers[str(item.chunk.id)] for item in RANKED] == [1, 2, 1, 3]


def test_each_source_is_one_block_with_its_passages_in_reading_order():
    blocks = context_blocks(RANKED)
    assert blocks == [
        f"{RANKED[2].chunk.content}\n\n{RANKED[0].chunk.content}",  # chunk 1 before chunk 3
        RANKED[1].chunk.content,
        RANKED[3].chunk.content,
    ]


def test_the_prompt_cites_sources_and_the_models_numbers_are_the_sources():
    llm = ScriptedLLM("Rerank first [1]; chunk along headings [3].")
    answer = AnswerGenerator(llm).generate("q", RetrievalResult(chunks=RANKED))
    prompt = llm.prompts[0]
    assert "[1] A cross encoder" in prompt and "[2] Sourdough" in prompt and "[3] Chunking" in prompt
    assert "[4]" not in prompt and "cite them as [1] to [3]" in prompt
    by_number = {source.number: source for source in answer.sources}
    assert by_number[3].document_id == str(C)
    assert {int(n) for n in CITATION.findall(answer.answer)} <= set(by_number)


def test_the_extractive_fallback_cites_the_same_numbers():
    # A reply that says nothing fails the guard: the author's own sentences are shown, cited by source.
    answer = AnswerGenerator(ScriptedLLM("Yes.")).generate("chunking along headings", RetrievalResult(chunks=RANKED))
    assert answer.trace["generation"]["answer_source"] == "extractive"
    by_number = {source.number: source for source in answer.sources}
    texts = {str(item.chunk.id): item.chunk.content for item in RANKED}
    cited = CITATION.findall(answer.answer)
    assert cited and "3" in cited
    for sentence, number in re.findall(r"([^.\[]+?) \[(\d+)\]", answer.answer):
        source = by_number[int(number)]
        assert any(sentence.strip() in texts[chunk_id] for chunk_id in source.chunk_ids), (sentence, number)


def test_streamed_sources_carry_the_numbers_the_final_answer_uses():
    llm = StreamingLLM(["Rerank first ", "[1]", "."])
    events = list(AnswerGenerator(llm).stream("q", RetrievalResult(chunks=RANKED)))
    first, last = events[0], events[-1]
    assert isinstance(first, StreamedSources) and isinstance(last, StreamedAnswer)
    assert "".join(event.text for event in events if isinstance(event, StreamedText)) == "Rerank first [1]."
    assert [source.number for source in first.sources] == [source.number for source in last.answer.sources] == [1, 2, 3]
