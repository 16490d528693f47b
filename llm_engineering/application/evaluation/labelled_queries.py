"""A labelled query set for RAG evaluation, built from a dataset's samples: every generated instruction
knows the document its answer came from (`Provenance.document_id`), so it is a query whose relevant
document is known without labelling by hand. Queries are typed by what wrote them (the local model, a
template, a teacher), so reports can show per-type figures; use the test split to stay held out from
anything tuned on the training side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from llm_engineering.domain.datasets import DatasetSample, TrainTestSplit


@dataclass(frozen=True)
class LabelledQuery:
    """A query, the documents that answer it, and labels to group the figures by."""

    query: str
    relevant_document_ids: frozenset[str]
    query_type: str
    category: str


def queries_from_samples(samples: Iterable[DatasetSample], category: str) -> list[LabelledQuery]:
    """One query per distinct instruction whose sample names its source document; samples without a
    document id (imported datasets) are skipped, repeated instructions merge their relevant documents."""
    merged: dict[str, tuple[set[str], str]] = {}
    for sample in samples:
        document_id = sample.provenance.document_id
        query = " ".join(sample.instruction.split())
        if not document_id or not query:
            continue
        merged.setdefault(query, (set(), str(sample.provenance.instruction_source)))[0].add(document_id)
    return [
        LabelledQuery(query, frozenset(documents), query_type, category)
        for query, (documents, query_type) in merged.items()
    ]


def labelled_queries(dataset: TrainTestSplit, split: str = "test") -> list[LabelledQuery]:
    """The labelled queries of `dataset`'s `split` (default the held-out test split), per category."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be train or test, not {split!r}.")
    parts = dataset.split("train" if split == "train" else "test")
    return [
        query for category, part in sorted(parts.items()) for query in queries_from_samples(part.samples, str(category))
    ]


def with_kept_copies(queries: Iterable[LabelledQuery], kept: Mapping[str, str]) -> list[LabelledQuery]:
    """The queries with each relevant document that was folded into another (a cross-posted copy; `kept`:
    folded id -> kept id, see `feature_store.folded_copy_ids`) replaced by the document the store keeps."""
    return [
        LabelledQuery(
            query.query,
            frozenset(kept.get(document, document) for document in query.relevant_document_ids),
            query.query_type,
            query.category,
        )
        for query in queries
    ]


def queries_from_cases(
    cases: Iterable[Mapping[str, Any]], resolve_link: Callable[[str], str | None]
) -> tuple[list[LabelledQuery], list[str]]:
    """Hand-written cases ({query, links, category, query_type?}) as labelled queries, each link turned into a
    document id by `resolve_link`; also returns the queries skipped because a link has no stored document
    (another corpus is loaded; scoring them would count misses the retriever could never avoid). Raises
    ValueError naming the case for a missing field."""
    queries, skipped = [], []
    for number, case in enumerate(cases, start=1):
        query = " ".join(str(case.get("query") or "").split())
        links = case.get("links") or []
        if not query or not links or not case.get("category"):
            raise ValueError(f"case {number}: needs a query, a category and at least one link, got {dict(case)}")
        documents = [resolve_link(str(link)) for link in links]
        if any(document is None for document in documents):
            skipped.append(query)
            continue
        query_type = str(case.get("query_type") or "hand-written")
        queries.append(LabelledQuery(query, frozenset(d for d in documents if d), query_type, str(case["category"])))
    return queries, skipped
