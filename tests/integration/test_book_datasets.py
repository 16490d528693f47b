"""The book's exported datasets (instruct_datasets.json, preference_datasets.json): load, convert, round trip."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from llm_engineering.domain.datasets import DatasetType, GenerationMethod, InstructionSource
from llm_engineering.domain.types import DataCategory
from llm_engineering.model.dataset_files import (
    export_split,
    load_book_dataset,
    load_dataset_source,
    load_split_folder,
)
from llm_engineering.model.hf_datasets import split_tables

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "handbook" / "artifacts"

BOOK_DATASETS = [
    # file, type, train, test, test_split_size, Hugging Face columns
    ("instruct_datasets.json", DatasetType.INSTRUCTION, 2250, 250, 0.1, ["instruction", "output"]),
    ("preference_datasets.json", DatasetType.PREFERENCE, 381, 21, 0.05, ["prompt", "chosen", "rejected"]),
]


@pytest.fixture(params=BOOK_DATASETS, ids=lambda case: case[0])
def book_dataset(request: pytest.FixtureRequest) -> tuple:
    path = ARTIFACTS / request.param[0]
    if not path.is_file():
        pytest.skip(f"the book's exported datasets are not beside the project ({path} is absent)")
    return (path, *request.param[1:])


def test_book_dataset_loads_with_its_counts_and_type(book_dataset):
    path, dataset_type, train, test, test_split_size, _ = book_dataset
    split = load_book_dataset(path)

    assert split.dataset_type == dataset_type
    assert split.counts() == {"train": {"articles": train}, "test": {"articles": test}}
    assert split.test_split_size == test_split_size
    assert split.categories == [DataCategory.ARTICLES]
    sample = split.samples("train")[0]
    assert sample.provenance.method == GenerationMethod.IMPORTED
    assert sample.provenance.instruction_source == InstructionSource.IMPORTED
    assert load_book_dataset(path, dataset_type) == split


def test_book_dataset_converts_to_the_books_hugging_face_layout(book_dataset):
    path, _, train, test, _, columns = book_dataset
    dataset_dict = split_tables(load_book_dataset(path))

    assert sorted(dataset_dict) == ["test", "train"]
    assert (dataset_dict["train"].num_rows, dataset_dict["test"].num_rows) == (train, test)
    assert sorted(dataset_dict["train"].column_names) == sorted(columns)
    assert sorted(dataset_dict["test"].column_names) == sorted(columns)


def test_book_dataset_export_round_trip(book_dataset, tmp_path):
    path, dataset_type, train, test, _, _ = book_dataset
    original = load_book_dataset(path)
    written = export_split(original, tmp_path, formats=("jsonl", "parquet"))

    folder = tmp_path / original.artifact_name
    assert written["jsonl"] == [folder / "train.jsonl", folder / "test.jsonl"]
    assert len((folder / "train.jsonl").read_text(encoding="utf-8").splitlines()) == train
    assert load_split_folder(folder) == original
    assert load_dataset_source(tmp_path) == original

    (folder / "train.jsonl").unlink()
    (folder / "test.jsonl").unlink()
    from_parquet = load_split_folder(folder)
    assert from_parquet == original
    assert (from_parquet.dataset_type, from_parquet.num_samples("test")) == (dataset_type, test)


def test_book_datasets_pass_through_curation_with_every_removal_counted(book_dataset):
    """The book's GPT-4o-mini datasets, curated as ours are: what goes is counted by reason, the rest kept.

    Its preference set refers to "the extract" in 63 prompts or answers and has 41 rejected answers equal
    to the chosen one; its instruct set is clean but for 2 samples that mention their source."""
    from llm_engineering.application.datasets.curation import FilterConfig
    from llm_engineering.application.datasets.service import CurationOptions, curate_samples, split_dataset

    path, dataset_type, train, *_ = book_dataset
    split = load_book_dataset(path)
    options = CurationOptions(filters=FilterConfig.for_dataset(dataset_type))

    kept, reports = curate_samples(split.samples("train"), options)
    resplit, _, decontamination = split_dataset(dataset_type, {DataCategory.ARTICLES: kept}, 0.1, options)

    assert [report.name for report in reports] == ["rule_filters", "exact_dedup", "near_dedup"]
    assert reports[0].kept + reports[0].removed_total == train
    for before, after in itertools.pairwise(reports):
        assert after.kept + after.removed_total == before.kept
    assert reports[-1].kept == len(kept)
    if dataset_type == DatasetType.PREFERENCE:
        assert reports[0].removed == {"mentions_source": 63, "rejected_equals_chosen": 41}
    else:
        assert reports[0].removed == {"mentions_source": 2}
    # Imported samples have no source document: each is its own group, so the re-split still works.
    assert resplit.num_samples("train") + resplit.num_samples("test") + decontamination.removed_total == len(kept)
