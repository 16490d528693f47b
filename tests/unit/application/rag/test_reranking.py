import pytest

from llm_engineering.application.rag.reranking import EmbeddingReranker, rerank
from llm_engineering.bootstrap import build_reranker
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.settings import load_settings
from tests.unit.application.rag.fakes import BagOfWordsEmbedder


def test_bi_encoder_prefers_the_passage_closest_to_the_original_query():
    reranker = EmbeddingReranker(BagOfWordsEmbedder())
    texts = ["bread and butter", "rerank the retrieved passages", "passages"]
    ranked = rerank(reranker, "rerank retrieved passages", ["a", "b", "c"], texts, keep_top_k=2)
    assert [item for item, _ in ranked] == ["b", "c"]
    assert ranked[0][1] > ranked[1][1]
    assert reranker.name == "bi-encoder:fake/bag-of-words"


def test_rerank_of_nothing_is_nothing_and_k_must_be_positive():
    reranker = EmbeddingReranker(BagOfWordsEmbedder())
    assert rerank(reranker, "q", [], [], keep_top_k=3) == []
    with pytest.raises(ValueError):
        rerank(reranker, "q", ["a"], ["a"], keep_top_k=0)


def test_offline_auto_falls_back_to_the_bi_encoder_and_forced_cross_encoder_says_what_to_do(tmp_path):
    settings = load_settings(env_file=tmp_path / "none.env", RERANKING_CROSS_ENCODER_MODEL_ID="no-such/cross-encoder")
    assert isinstance(build_reranker(settings, BagOfWordsEmbedder()), EmbeddingReranker)
    forced = load_settings(
        env_file=tmp_path / "none.env", RERANKER="cross-encoder", RERANKING_CROSS_ENCODER_MODEL_ID="no-such/x"
    )
    with pytest.raises(ImproperlyConfigured, match="not available locally"):
        build_reranker(forced, BagOfWordsEmbedder())
