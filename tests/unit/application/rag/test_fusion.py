import uuid

import pytest

from llm_engineering.application.rag.fusion import ScoredChunk, rank_by_document, reciprocal_rank_fusion
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk

DOC_A, DOC_B = uuid.uuid4(), uuid.uuid4()


def _chunk(name: str, document: uuid.UUID) -> EmbeddedArticleChunk:
    return EmbeddedArticleChunk(
        content=name,
        embedding=None,
        platform="blog",
        document_id=document,
        author_id=uuid.uuid4(),
        author_full_name="A B",
        link="https://a",
    )


A1, A2, B1 = _chunk("a1", DOC_A), _chunk("a2", DOC_A), _chunk("b1", DOC_B)


def test_rrf_sums_reciprocal_ranks_across_rankings():
    fused = reciprocal_rank_fusion([[ScoredChunk(A1, 0.9), ScoredChunk(B1, 0.8)], [ScoredChunk(B1, 5.0)]], k=60)
    assert [item.chunk.content for item in fused] == ["b1", "a1"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1].score == pytest.approx(1 / 61)


def test_a_single_ranking_is_kept_as_it_is():
    ranking = [ScoredChunk(A1, 0.3), ScoredChunk(B1, 0.2)]
    assert reciprocal_rank_fusion([ranking]) == ranking


def test_documents_with_supporting_chunks_rank_first_and_stay_together():
    chunks = [ScoredChunk(B1, 0.8), ScoredChunk(A1, 0.7), ScoredChunk(A2, 0.6)]
    assert [i.chunk.content for i in rank_by_document(chunks, support_weight=0.5)] == ["a1", "a2", "b1"]
    # Weight 0: documents by their best chunk only.
    assert [i.chunk.content for i in rank_by_document(chunks, support_weight=0.0)] == ["b1", "a1", "a2"]
    with pytest.raises(ValueError):
        rank_by_document(chunks, support_weight=-1)
