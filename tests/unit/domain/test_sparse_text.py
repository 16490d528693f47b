import pytest

from llm_engineering.domain.sparse_text import (
    AVERAGE_TERMS,
    K1,
    SparseVector,
    document_vector,
    query_vector,
    stem,
    term_id,
    terms,
)


def test_terms_drop_stop_words_and_keep_names():
    assert terms("How do I fine-tune GPT-4o with QLoRA and C++?") == ["fine-tune", "gpt-4o", "qlora", "c++"]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("models", "model"),
        ("queries", "query"),
        ("embeddings", "embedd"),
        ("embedded", "embedd"),
        ("process", "process"),
    ],
)
def test_light_stemming_meets_plural_and_verb_forms(word, expected):
    assert stem(word) == expected


def test_term_ids_are_stable_across_processes():
    import zlib

    # CRC-32 masked to 31 bits: the same in every process, unlike Python's salted hash().
    assert term_id("qdrant") == zlib.crc32(b"qdrant") & 0x7FFFFFFF


def test_document_weights_follow_bm25_saturation():
    vector = document_vector("qdrant qdrant search")
    weights = dict(zip(vector.indices, vector.values, strict=True))
    norm = K1 * (1 - 0.75 + 0.75 * 3 / AVERAGE_TERMS)
    assert weights[term_id("qdrant")] == pytest.approx(2 * (K1 + 1) / (2 + norm))
    assert weights[term_id("search")] == pytest.approx(1 * (K1 + 1) / (1 + norm))
    assert list(vector.indices) == sorted(vector.indices)


def test_query_vector_is_one_per_distinct_term_and_empty_for_stop_words():
    vector = query_vector("Qdrant and qdrant search")
    assert sorted(vector.values) == [1.0, 1.0]
    assert not query_vector("what is it about?")


def test_mismatched_sparse_vector_is_an_error():
    with pytest.raises(ValueError, match="indices"):
        SparseVector((1, 2), (1.0,))
