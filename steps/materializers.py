"""ZenML materializers for the project's artifacts.

`TrainTestSplitMaterializer` stores a `TrainTestSplit` (instruct or preference dataset) as one JSON file,
records its counts as artifact metadata and renders a Markdown preview for the dashboard. A step opts in
with `@step(output_materializers=TrainTestSplitMaterializer)`; defining the class also registers it as
the default materializer of `TrainTestSplit` once this module is imported.
"""

from __future__ import annotations

import hashlib
import html
import os
from typing import Any, ClassVar

from zenml.enums import ArtifactType, VisualizationType
from zenml.materializers.base_materializer import BaseMaterializer
from zenml.metadata.metadata_types import MetadataType

from llm_engineering.domain.datasets import DatasetType, PreferenceDatasetSample, TrainTestSplit

DATA_FILENAME = "split.json"
PREVIEW_FILENAME = "preview.md"
PREVIEW_SAMPLES = 10
CELL_CHARS = 200
_MARKDOWN_SPECIALS = str.maketrans({char: f"\\{char}" for char in "\\|`*_[]"})


class TrainTestSplitMaterializer(BaseMaterializer):
    """`TrainTestSplit` <-> `<uri>/split.json` (the model's JSON), with metadata and a Markdown preview."""

    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (TrainTestSplit,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA

    @property
    def data_path(self) -> str:
        # os.path, not Path: the URI may be remote (s3://...), which Path would mangle.
        return os.path.join(self.uri, DATA_FILENAME)  # noqa: PTH118

    def load(self, data_type: type[Any]) -> TrainTestSplit:
        # Always the concrete model: a step input annotated with a base class (BaseModel) still gets the split.
        with self.artifact_store.open(self.data_path, "r") as file:
            return TrainTestSplit.model_validate_json(file.read())

    def save(self, data: TrainTestSplit) -> None:
        with self.artifact_store.open(self.data_path, "w") as file:
            file.write(data.model_dump_json())

    def compute_content_hash(self, data: TrainTestSplit) -> str | None:
        digest = hashlib.md5(usedforsecurity=False)
        digest.update(type(self).__name__.encode())
        digest.update(data.model_dump_json().encode())
        return digest.hexdigest()

    def extract_metadata(self, data: TrainTestSplit) -> dict[str, MetadataType]:
        """Dataset type, split size, sample counts (total and per split/category), source documents per split
        and `shared_documents`, the documents feeding both train and test (0 for a split made by document)."""
        return {
            "dataset_type": str(data.dataset_type),
            "test_split_size": data.test_split_size,
            "num_train": data.num_samples("train"),
            "num_test": data.num_samples("test"),
            "counts": data.counts(),
            "num_train_documents": _num_documents(data, "train"),
            "num_test_documents": _num_documents(data, "test"),
            "shared_documents": len(data.shared_documents()),
        }

    def save_visualizations(self, data: TrainTestSplit) -> dict[str, VisualizationType]:
        path = os.path.join(self.uri, PREVIEW_FILENAME)  # noqa: PTH118
        with self.artifact_store.open(path, "w") as file:
            file.write(render_preview(data))
        return {path.replace("\\", "/"): VisualizationType.MARKDOWN}


def render_preview(data: TrainTestSplit, num_samples: int = PREVIEW_SAMPLES) -> str:
    """Markdown: the sample counts per category and split, then the first `num_samples` train samples."""
    rows = [
        (str(category), sample)
        for category in sorted(data.train)
        for sample in data.train[category].samples[:num_samples]
    ][:num_samples]
    counts = data.counts()
    categories = [str(category) for category in data.categories]
    summary = (
        f"Test split size {data.test_split_size}; {data.num_samples('train')} train and "
        f"{data.num_samples('test')} test samples from {_num_documents(data, 'train')} and "
        f"{_num_documents(data, 'test')} source documents; {len(data.shared_documents())} documents in both."
    )
    lines = [
        f"# {data.dataset_type} dataset `{data.artifact_name}`",
        "",
        summary,
        "",
        "## Samples per category",
        "",
        "| category | train | test |",
        "| --- | ---: | ---: |",
        *(
            f"| {category} | {counts['train'].get(category, 0)} | {counts['test'].get(category, 0)} |"
            for category in categories
        ),
        f"| **total** | {data.num_samples('train')} | {data.num_samples('test')} |",
        "",
        f"## First {len(rows)} train samples" if rows else "## Train samples",
        "",
    ]
    if not rows:
        return "\n".join([*lines, "No train samples.", ""])
    answers = ["chosen", "rejected"] if data.dataset_type == DatasetType.PREFERENCE else ["answer"]
    header = ["#", "category", "instruction", *answers, "method", "instruction source"]
    lines += [f"| {' | '.join(header)} |", f"|{' --- |' * len(header)}"]
    for number, (category, sample) in enumerate(rows, start=1):
        preference = isinstance(sample, PreferenceDatasetSample)
        texts = [sample.chosen, sample.rejected] if preference else [sample.answer]
        cells = [
            str(number),
            category,
            _cell(sample.instruction),
            *(_cell(text) for text in texts),
            _cell(str(sample.provenance.method)),
            _cell(str(sample.provenance.instruction_source)),
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join([*lines, ""])


def _cell(text: str, limit: int = CELL_CHARS) -> str:
    """One table cell: whitespace (newlines included) collapsed, cut at `limit` characters, then escaped."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return html.escape(flat, quote=False).translate(_MARKDOWN_SPECIALS)


def _num_documents(data: TrainTestSplit, name: str) -> int:
    return len({document for dataset in data.split(name).values() for document in dataset.document_ids})
