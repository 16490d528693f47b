"""`TrainTestSplitMaterializer` for real: save, load, metadata and preview in the active ZenML artifact store."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from llm_engineering.domain.datasets import (
    CategoryDataset,
    DatasetType,
    GenerationMethod,
    InstructDatasetSample,
    InstructionSource,
    PreferenceDatasetSample,
    Provenance,
    TrainTestSplit,
)
from llm_engineering.domain.types import DataCategory

pytestmark = pytest.mark.integration

LONG_ANSWER = "A | pipe\nand a newline. " + "word " * 100


def _provenance(document: str) -> Provenance:
    return Provenance(
        document_id=document,
        author_full_name="Ada Lovelace",
        extract_start=0,
        extract_end=120,
        method=GenerationMethod.BACK_TRANSLATION,
        instruction_source=InstructionSource.TEMPLATE,
    )


def _sample(dataset_type: DatasetType, number: int, document: str) -> InstructDatasetSample | PreferenceDatasetSample:
    instruction = f"Explain point {number} of the notes."
    if dataset_type == DatasetType.PREFERENCE:
        return PreferenceDatasetSample(
            instruction=instruction,
            chosen=LONG_ANSWER,
            rejected=f"Rejected answer {number}.",
            provenance=_provenance(document),
        )
    return InstructDatasetSample(instruction=instruction, answer=LONG_ANSWER, provenance=_provenance(document))


def make_split(dataset_type: DatasetType) -> TrainTestSplit:
    """12 articles + 2 posts in train (documents a1-a3, p1), 2 articles in test (document a4)."""

    def dataset(category: DataCategory, documents: list[str]) -> CategoryDataset:
        samples = [_sample(dataset_type, number, document) for number, document in enumerate(documents)]
        return CategoryDataset(dataset_type=dataset_type, category=category, samples=samples)

    return TrainTestSplit(
        dataset_type=dataset_type,
        train={
            DataCategory.ARTICLES: dataset(DataCategory.ARTICLES, ["a1"] * 4 + ["a2"] * 4 + ["a3"] * 4),
            DataCategory.POSTS: dataset(DataCategory.POSTS, ["p1", "p1"]),
        },
        test={DataCategory.ARTICLES: dataset(DataCategory.ARTICLES, ["a4", "a4"])},
        test_split_size=0.125,
    )


@pytest.fixture
def materializer():
    """The materializer on a fresh folder inside the active (temporary) artifact store: stores refuse paths
    outside their root."""
    from zenml.client import Client

    from steps.materializers import TrainTestSplitMaterializer

    store = Client().active_stack.artifact_store
    uri = str(Path(store.path) / "tests" / uuid.uuid4().hex)
    store.makedirs(uri)
    return TrainTestSplitMaterializer(uri=uri, artifact_store=store)


@pytest.mark.parametrize("dataset_type", [DatasetType.INSTRUCTION, DatasetType.PREFERENCE])
def test_split_round_trips_with_metadata_and_preview(materializer, dataset_type):
    from zenml.enums import VisualizationType

    split = make_split(dataset_type)

    materializer.save(split)
    assert (Path(materializer.uri) / "split.json").is_file()
    assert materializer.load(TrainTestSplit) == split
    assert materializer.compute_content_hash(split) == materializer.compute_content_hash(make_split(dataset_type))

    metadata = materializer.extract_metadata(split)
    assert metadata == {
        "dataset_type": str(dataset_type),
        "test_split_size": 0.125,
        "num_train": 14,
        "num_test": 2,
        "counts": {"train": {"articles": 12, "posts": 2}, "test": {"articles": 2}},
        "num_train_documents": 4,
        "num_test_documents": 1,
        "shared_documents": 0,
    }

    visualizations = materializer.save_visualizations(split)
    ((uri, kind),) = visualizations.items()
    assert kind == VisualizationType.MARKDOWN
    preview = Path(uri).read_text(encoding="utf-8")
    assert "| articles | 12 | 2 |" in preview and "| posts | 0 | 1 |" not in preview
    assert "| posts | 2 | 0 |" in preview and "| **total** | 14 | 2 |" in preview
    rows = [line for line in preview.splitlines() if line.startswith("| ") and "Explain point" in line]
    assert len(rows) == 10  # the first ten train samples only
    answers = "chosen | rejected" if dataset_type == DatasetType.PREFERENCE else "answer"
    header = f"| # | category | instruction | {answers} | method | instruction source |"
    assert any(line.startswith(header) for line in preview.splitlines())
    first = rows[0]
    assert "A \\| pipe and a newline." in first  # pipes escaped, newlines flattened: the row stays one row
    assert "…" in first and "word " * 60 not in first  # long cells cut near 200 characters
    assert first.rstrip().endswith("| back\\_translation | template |")
    if dataset_type == DatasetType.PREFERENCE:
        assert "Rejected answer 0." in first


def test_empty_split_saves_and_previews(materializer):
    split = TrainTestSplit(dataset_type=DatasetType.INSTRUCTION)

    materializer.save(split)

    assert materializer.load(TrainTestSplit) == split
    assert materializer.extract_metadata(split)["counts"] == {"train": {}, "test": {}}
    ((uri, _),) = materializer.save_visualizations(split).items()
    assert "No train samples." in Path(uri).read_text(encoding="utf-8")
