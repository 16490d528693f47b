"""The dataset-generation use case, stage by stage, as the `generate_datasets` pipeline runs it.

    documents = query_cleaned_documents(index, authors)      # feature store (cleaned_* collections)
    prompts = create_prompts(documents, type, mode, ...)     # sentence-aligned extracts per category
    samples, report = generator.generate(prompts.extracts()) # teacher or offline (back-translation)
    kept, reports = curate_samples(samples, ...)             # filters, exact and near duplicates, judge
    split, reports = split_dataset(type, kept, test_size)    # by document, then decontamination

Each stage returns plain values plus a report whose `as_metadata()` the ZenML steps log.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from loguru import logger
from pydantic import BaseModel, Field

from llm_engineering.application.datasets.curation import (
    CurationStepReport,
    FilterConfig,
    QualityJudge,
    apply_rule_filters,
    decontaminate,
    filter_by_quality,
    remove_exact_duplicates,
    remove_near_duplicates,
)
from llm_engineering.application.datasets.extracts import Extract, SourceDocument, extract_passages
from llm_engineering.application.datasets.splitting import SplitReport, split_by_document
from llm_engineering.application.errors import DatasetGenerationError
from llm_engineering.domain.base.vector import VectorIndex
from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.domain.datasets import DatasetSample, DatasetType, TrainTestSplit
from llm_engineering.domain.types import DataCategory

GenerationMode = Literal["teacher", "offline"]

# Extract sizes per mode. The teacher writes several short answers per extract (the book's 1,000-2,000
# characters); offline, the extract IS the answer, so it is sized like one: a few paragraphs.
EXTRACT_CHARS: dict[str, tuple[int, int]] = {"teacher": (1000, 2000), "offline": (400, 1200)}


def resolve_mode(requested: str, teacher_configured: bool) -> GenerationMode:
    """`auto` means the teacher when one is configured, offline otherwise; `teacher` without one is an error."""
    if requested not in ("auto", "teacher", "offline"):
        raise DatasetGenerationError(f"generation_mode must be auto, teacher or offline, not {requested!r}.")
    if requested == "teacher" and not teacher_configured:
        raise DatasetGenerationError(
            "generation_mode is `teacher` but no teacher is configured: set DATASET_GENERATOR_BASE_URL "
            "(and DATASET_GENERATOR_MODEL_ID / DATASET_GENERATOR_API_KEY) in .env, or use `offline`."
        )
    if requested == "auto":
        return "teacher" if teacher_configured else "offline"
    return requested  # type: ignore[return-value]


# --- Feature store ---------------------------------------------------------------------------------------
def query_cleaned_documents(
    index: VectorIndex, author_full_names: Sequence[str] | None, classes: Iterable[type[CleanedDocument]]
) -> tuple[list[CleanedDocument], dict[str, Any]]:
    """The cleaned documents of the authors (all authors when None/empty) in `index`, and counts per
    category/author.

    Raises DatasetGenerationError when the feature store holds none: the feature pipeline must run first.
    """
    names = [name.strip() for name in author_full_names or () if name and name.strip()]
    documents: list[CleanedDocument] = []
    for document_class in classes:
        if not index.collection_exists(document_class):
            continue
        filters = {"author_full_name": names} if names else {}
        documents += index.find_all(document_class, **filters)
    documents.sort(key=lambda document: (str(document.get_category()), str(document.id)))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for document in documents:
        counts[str(document.get_category())][document.author_full_name] += 1
    metadata = {
        "num_documents": len(documents),
        "per_category": {category: dict(authors) for category, authors in sorted(counts.items())},
        "authors": sorted({document.author_full_name for document in documents}),
        "missing_authors": sorted(set(names) - {document.author_full_name for document in documents}),
    }
    if not documents:
        who = f"authors {names}" if names else "any author"
        raise DatasetGenerationError(
            f"The feature store has no cleaned documents of {who}. Run the feature pipeline first "
            "(poetry run poe run-feature-engineering-pipeline)."
        )
    return documents, metadata


# --- Prompts (extracts) ----------------------------------------------------------------------------------
class ExtractSpan(BaseModel):
    document: int  # index into DatasetPrompts.documents
    start: int
    end: int


class SourceDocumentRecord(BaseModel):
    id: str
    category: DataCategory
    content: str
    link: str | None = None
    author_full_name: str | None = None
    title: str | None = None


class DatasetPrompts(BaseModel):
    """The extracts one generation run works on, as a JSON-able artifact (documents stored once)."""

    dataset_type: DatasetType
    mode: str
    documents: list[SourceDocumentRecord] = Field(default_factory=list)
    spans: list[ExtractSpan] = Field(default_factory=list)
    extraction: dict[str, Any] = Field(default_factory=dict)

    def extracts(self) -> list[Extract]:
        sources = [SourceDocument(**record.model_dump()) for record in self.documents]
        return [Extract(document=sources[span.document], start=span.start, end=span.end) for span in self.spans]

    def counts(self) -> dict[str, int]:
        per_category: dict[str, int] = defaultdict(int)
        for span in self.spans:
            per_category[str(self.documents[span.document].category)] += 1
        return dict(sorted(per_category.items()))


def select_extracts(extracts: Sequence[Extract], limit: int | None, seed: int) -> list[Extract]:
    """At most `limit` extracts, taken round-robin over documents (in a seeded order) so a budget still
    covers as many documents as it can; the result keeps document and position order."""
    if limit is None or limit >= len(extracts):
        return list(extracts)
    by_document: dict[str, list[Extract]] = defaultdict(list)
    for extract in extracts:
        by_document[extract.document.id].append(extract)
    order = sorted(by_document)
    random.Random(seed).shuffle(order)
    chosen: list[Extract] = []
    depth = 0
    while len(chosen) < limit:
        row = [by_document[doc][depth] for doc in order if depth < len(by_document[doc])]
        if not row:
            break
        chosen += row[: limit - len(chosen)]
        depth += 1
    position = {id(extract): index for index, extract in enumerate(extracts)}
    return sorted(chosen, key=lambda extract: position[id(extract)])


def create_prompts(
    documents: Sequence[CleanedDocument],
    dataset_type: DatasetType,
    mode: GenerationMode,
    min_chars: int | None = None,
    max_chars: int | None = None,
    max_extracts: int | None = None,
    seed: int = 42,
) -> DatasetPrompts:
    """Sentence-aligned extracts of every document (sizes per mode unless given), at most `max_extracts`."""
    default_min, default_max = EXTRACT_CHARS[mode]
    min_chars, max_chars = min_chars or default_min, max_chars or default_max
    if min_chars > max_chars:
        raise DatasetGenerationError(f"extract_min_chars ({min_chars}) is larger than extract_max_chars ({max_chars}).")
    sources = [SourceDocument.from_cleaned(document) for document in documents]
    extracts, report = extract_passages(sources, min_chars=min_chars, max_chars=max_chars)
    selected = select_extracts(extracts, max_extracts, seed)
    index = {source.id: position for position, source in enumerate(sources)}
    used = sorted({index[extract.document.id] for extract in selected})
    renumber = {old: new for new, old in enumerate(used)}
    prompts = DatasetPrompts(
        dataset_type=dataset_type,
        mode=mode,
        documents=[SourceDocumentRecord(**vars(sources[position])) for position in used],
        spans=[
            ExtractSpan(document=renumber[index[extract.document.id]], start=extract.start, end=extract.end)
            for extract in selected
        ],
        extraction={
            **report.as_metadata(),
            "min_chars": min_chars,
            "max_chars": max_chars,
            "selected_extracts": len(selected),
            "max_extracts": max_extracts,
        },
    )
    logger.info(
        "{} extracts from {} documents ({} selected for generation).", len(extracts), len(sources), len(selected)
    )
    return prompts


# --- Curation and split ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CurationOptions:
    filters: FilterConfig = field(default_factory=FilterConfig)
    near_duplicate_threshold: float = 0.85
    decontamination_ngram: int = 8
    decontamination_max_overlap: float = 0.5
    judge_min_score: int = 3


def curate_samples(
    samples: Sequence[DatasetSample], options: CurationOptions, judge: QualityJudge | None = None
) -> tuple[list[DatasetSample], list[CurationStepReport]]:
    """Rule filters, exact then near-duplicate removal, then (with a judge) the quality threshold."""
    reports: list[CurationStepReport] = []
    kept, report = apply_rule_filters(list(samples), options.filters)
    reports.append(report)
    kept, report = remove_exact_duplicates(kept)
    reports.append(report)
    kept, report = remove_near_duplicates(kept, threshold=options.near_duplicate_threshold)
    reports.append(report)
    if judge is not None:
        kept, report, _scores = filter_by_quality(kept, judge, min_score=options.judge_min_score)
        reports.append(report)
    return kept, reports


def split_dataset(
    dataset_type: DatasetType,
    samples_by_category: dict[DataCategory, Sequence[DatasetSample]],
    test_size: float,
    options: CurationOptions,
    seed: int = 42,
) -> tuple[TrainTestSplit, SplitReport, CurationStepReport]:
    """Split by document, then drop train samples that overlap the test side (per dataset, all categories)."""
    split, split_report = split_by_document(dataset_type, samples_by_category, test_size, seed=seed)
    test_samples = split.samples("test")
    kept_total = 0
    removed: dict[str, int] = defaultdict(int)
    for category, dataset in split.train.items():
        kept, report = decontaminate(
            dataset.samples,
            test_samples,
            ngram=options.decontamination_ngram,
            max_overlap=options.decontamination_max_overlap,
        )
        split.train[category] = dataset.model_copy(update={"samples": kept})
        kept_total += report.kept
        for reason, count in report.removed.items():
            removed[reason] += count
    if split.shared_documents():  # the split guarantees this; a failure here is a bug, not bad input
        raise DatasetGenerationError(f"Train and test share documents: {sorted(split.shared_documents())[:5]}")
    return split, split_report, CurationStepReport(name="decontamination", kept=kept_total, removed=dict(removed))
