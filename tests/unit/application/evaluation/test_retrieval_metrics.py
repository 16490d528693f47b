"""Retrieval metrics on crafted rankings with values worked out by hand."""

from __future__ import annotations

import math

import pytest

from llm_engineering.application.evaluation.retrieval_metrics import (
    QueryScores,
    aggregate,
    aggregate_by,
    context_precision,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    score_query,
    unique_ranking,
)

# Chunk hits as document ids, best first: doc "a" twice (two chunks), relevant docs "b" and "d".
HITS = ["a", "a", "b", "c", "d", "e"]
RELEVANT = {"b", "d"}


def test_repeated_documents_count_once_at_their_best_rank():
    assert unique_ranking(HITS) == ["a", "b", "c", "d", "e"]


def test_recall_and_reciprocal_rank_use_distinct_documents():
    assert recall_at_k(HITS, RELEVANT, 2) == 0.5  # distinct top 2: a, b
    assert recall_at_k(HITS, RELEVANT, 4) == 1.0  # a, b, c, d
    assert reciprocal_rank(HITS, RELEVANT) == 0.5  # b is the 2nd distinct document
    assert reciprocal_rank(HITS, {"e"}, k=4) == 0.0  # e is 5th, outside MRR@4
    assert reciprocal_rank([], RELEVANT) == 0.0


def test_ndcg_with_binary_relevance():
    # b at rank 2, d at rank 4: (1/log2 3 + 1/log2 5) / (1/log2 2 + 1/log2 3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(HITS, RELEVANT, 5) == pytest.approx(expected)
    assert ndcg_at_k(["b", "d"], RELEVANT, 5) == pytest.approx(1.0)
    assert ndcg_at_k(["x"], RELEVANT, 5) == 0.0


def test_context_precision_counts_every_chunk_of_the_window():
    assert context_precision(HITS, RELEVANT, 4) == 0.25  # a, a, b, c: one relevant chunk of four
    assert context_precision(["b", "b", "d"], RELEVANT, 5) == 1.0
    assert context_precision([], RELEVANT, 5) == 0.0


def test_score_query_and_aggregates():
    first = score_query(HITS, RELEVANT, k=2, mrr_k=10)
    assert (first.recall, first.reciprocal_rank, first.context_precision) == (0.5, 0.5, 0.0)
    perfect = QueryScores(recall=1.0, reciprocal_rank=1.0, ndcg=1.0, context_precision=1.0)
    miss = QueryScores(recall=0.0, reciprocal_rank=0.0, ndcg=0.0, context_precision=0.0)

    assert aggregate([perfect, miss]) == {
        "queries": 2,
        "recall": 0.5,
        "mrr": 0.5,
        "ndcg": 0.5,
        "context_precision": 0.5,
    }
    assert aggregate_by({"title": [perfect], "paraphrase": [miss], "none": []}) == {
        "title": aggregate([perfect]),
        "paraphrase": aggregate([miss]),
    }


def test_bad_labels_are_clear_errors():
    with pytest.raises(ValueError, match="at least one relevant document"):
        recall_at_k(HITS, set(), 5)
    with pytest.raises(ValueError, match="k must be at least 1"):
        ndcg_at_k(HITS, RELEVANT, 0)
    with pytest.raises(ValueError, match="labelled query set is empty"):
        aggregate([])
