"""Labelled queries from generated samples: the source document is the relevant one."""

from __future__ import annotations

import pytest

from llm_engineering.application.evaluation.labelled_queries import labelled_queries
from llm_engineering.domain.datasets import (
    CategoryDataset,
    DatasetType,
    InstructDatasetSample,
    InstructionSource,
    Provenance,
    TrainTestSplit,
)
from llm_engineering.domain.types import DataCategory


def sample(instruction: str, document_id: str | None, source: InstructionSource) -> InstructDatasetSample:
    provenance = Provenance(document_id=document_id, instruction_source=source)
    return InstructDatasetSample(instruction=instruction, answer="An answer long enough.", provenance=provenance)


def test_test_split_instructions_become_queries_labelled_with_their_documents():
    model, template = list(InstructionSource)[:2]
    test = [
        sample("Explain  reranking.", "doc-1", model),
        sample("Explain reranking.", "doc-2", model),  # same query, another source document
        sample("Write about chunking.", "doc-3", template),
        sample("Imported question?", None, template),  # no provenance: not a labelled query
    ]
    articles = DataCategory.ARTICLES
    dataset = TrainTestSplit(
        dataset_type=DatasetType.INSTRUCTION,
        train={articles: CategoryDataset(dataset_type=DatasetType.INSTRUCTION, category=articles, samples=[])},
        test={articles: CategoryDataset(dataset_type=DatasetType.INSTRUCTION, category=articles, samples=test)},
    )

    queries = labelled_queries(dataset)

    assert [(q.query, set(q.relevant_document_ids), q.query_type) for q in queries] == [
        ("Explain reranking.", {"doc-1", "doc-2"}, str(model)),
        ("Write about chunking.", {"doc-3"}, str(template)),
    ]
    assert {q.category for q in queries} == {str(articles)}
    assert labelled_queries(dataset, "train") == []
    with pytest.raises(ValueError, match="split must be train or test"):
        labelled_queries(dataset, "validation")


def test_a_folded_copy_is_replaced_by_the_document_the_store_keeps():
    from llm_engineering.application.evaluation.labelled_queries import LabelledQuery, with_kept_copies

    queries = [LabelledQuery("rerank", frozenset({"substack-copy", "other"}), "hand-written", "articles")]
    kept = with_kept_copies(queries, {"substack-copy": "medium-article"})
    assert kept == [LabelledQuery("rerank", frozenset({"medium-article", "other"}), "hand-written", "articles")]
