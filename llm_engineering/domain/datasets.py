"""Fine-tuning datasets: instruct samples (instruction, answer) and preference samples (instruction, chosen,
rejected), grouped per data category, split into train and test.

Every sample carries its `Provenance`, so any row of a published dataset can be traced back to the
author's text (document, character span) and to what wrote it (teacher model, back-translation,
template, imported file). `model/hf_datasets.py` turns them into Hugging Face tables with the book's column
layout (`instruction, output` and `prompt, chosen, rejected`); this module imports no driver.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llm_engineering.domain.types import DataCategory


class DatasetType(StrEnum):
    INSTRUCTION = "instruction"
    PREFERENCE = "preference"


class GenerationMethod(StrEnum):
    """What produced a sample."""

    TEACHER = "teacher"  # a configured (strong) model wrote the instruction and the answer from an extract
    BACK_TRANSLATION = "back_translation"  # the answer is the author's text; the instruction was derived from it
    IMPORTED = "imported"  # loaded from a file (e.g. the book's exported datasets)


class InstructionSource(StrEnum):
    """What wrote the instruction of a sample."""

    TEACHER = "teacher"
    MODEL = "model"  # the local model, accepted by validation
    TEMPLATE = "template"  # deterministic template from the title, headings and key phrases
    IMPORTED = "imported"


class Provenance(BaseModel):
    """Where a sample comes from. `extract_start`/`extract_end` index the cleaned document's content."""

    model_config = ConfigDict(frozen=True)

    document_id: str | None = None
    document_link: str | None = None
    author_full_name: str | None = None
    extract_start: int | None = Field(default=None, ge=0)
    extract_end: int | None = Field(default=None, ge=0)
    method: GenerationMethod = GenerationMethod.IMPORTED
    instruction_source: InstructionSource = InstructionSource.IMPORTED
    # The model that wrote the generated parts (teacher, local model for instructions or rejected answers).
    model_id: str | None = None

    def as_columns(self) -> dict[str, Any]:
        return {f"provenance_{key}": value for key, value in self.model_dump(mode="json").items()}

    @classmethod
    def from_columns(cls, row: Mapping[str, Any]) -> Provenance:
        prefix = "provenance_"
        values = {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}
        return cls.model_validate({key: value for key, value in values.items() if value is not None})


class _Sample(BaseModel):
    model_config = ConfigDict(frozen=True)

    instruction: str
    provenance: Provenance = Provenance()
    # Numbered passages of a retrieval-aware sample (`/rag`'s prompt layout); None: a plain instruction.
    passages: tuple[str, ...] | None = None

    @field_validator("instruction")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("instruction must not be empty")
        return value

    @property
    def document_id(self) -> str | None:
        return self.provenance.document_id


class InstructDatasetSample(_Sample):
    answer: str

    # Columns of the Hugging Face layout (the book's Alpaca pair).
    HF_COLUMNS: ClassVar[tuple[str, ...]] = ("instruction", "output")

    def text_for_dedup(self) -> str:
        return f"{self.instruction}\n{self.answer}"

    def to_row(self, with_provenance: bool = False) -> dict[str, Any]:
        row: dict[str, Any] = {"instruction": self.instruction, "output": self.answer}
        return {**row, **self.provenance.as_columns()} if with_provenance else row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> InstructDatasetSample:
        answer = row.get("output", row.get("answer"))
        return cls(instruction=row["instruction"], answer=answer, provenance=Provenance.from_columns(row))


class PreferenceDatasetSample(_Sample):
    chosen: str
    rejected: str

    HF_COLUMNS: ClassVar[tuple[str, ...]] = ("prompt", "chosen", "rejected")

    @property
    def answer(self) -> str:
        """The answer curation checks: the preferred one."""
        return self.chosen

    def text_for_dedup(self) -> str:
        return f"{self.instruction}\n{self.chosen}"

    def to_row(self, with_provenance: bool = False) -> dict[str, Any]:
        row: dict[str, Any] = {"prompt": self.instruction, "chosen": self.chosen, "rejected": self.rejected}
        return {**row, **self.provenance.as_columns()} if with_provenance else row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PreferenceDatasetSample:
        instruction = row.get("prompt", row.get("instruction"))
        return cls(
            instruction=instruction,
            chosen=row["chosen"],
            rejected=row["rejected"],
            provenance=Provenance.from_columns(row),
        )


DatasetSample = InstructDatasetSample | PreferenceDatasetSample

SAMPLE_TYPES: dict[DatasetType, type[InstructDatasetSample | PreferenceDatasetSample]] = {
    DatasetType.INSTRUCTION: InstructDatasetSample,
    DatasetType.PREFERENCE: PreferenceDatasetSample,
}


def sample_type(dataset_type: DatasetType) -> type[InstructDatasetSample | PreferenceDatasetSample]:
    return SAMPLE_TYPES[DatasetType(dataset_type)]


class CategoryDataset(BaseModel):
    """The samples of one data category (articles, posts, repositories) of one dataset type."""

    dataset_type: DatasetType
    category: DataCategory
    samples: list[InstructDatasetSample] | list[PreferenceDatasetSample] = Field(default_factory=list)

    @property
    def num_samples(self) -> int:
        return len(self.samples)

    @property
    def document_ids(self) -> set[str]:
        return {sample.document_id for sample in self.samples if sample.document_id}

    @classmethod
    def from_rows(
        cls, dataset_type: DatasetType, category: DataCategory, rows: Iterable[Mapping[str, Any]]
    ) -> CategoryDataset:
        kind = sample_type(dataset_type)
        return cls(dataset_type=dataset_type, category=category, samples=[kind.from_row(row) for row in rows])


class TrainTestSplit(BaseModel):
    """A dataset of one type: per category, the train and test samples.

    The split is by source document, so no document feeds both train and test (checked by
    `shared_documents()`).
    """

    dataset_type: DatasetType
    train: dict[DataCategory, CategoryDataset] = Field(default_factory=dict)
    test: dict[DataCategory, CategoryDataset] = Field(default_factory=dict)
    test_split_size: float = Field(default=0.1, ge=0, lt=1)

    ARTIFACT_NAMES: ClassVar[dict[DatasetType, str]] = {
        DatasetType.INSTRUCTION: "instruct_datasets",
        DatasetType.PREFERENCE: "preference_datasets",
    }

    @property
    def artifact_name(self) -> str:
        return self.ARTIFACT_NAMES[self.dataset_type]

    @property
    def categories(self) -> list[DataCategory]:
        return sorted(set(self.train) | set(self.test))

    def split(self, name: Literal["train", "test"]) -> dict[DataCategory, CategoryDataset]:
        return self.train if name == "train" else self.test

    def samples(self, name: Literal["train", "test"]) -> list[DatasetSample]:
        return [sample for category in sorted(self.split(name)) for sample in self.split(name)[category].samples]

    def num_samples(self, name: Literal["train", "test"]) -> int:
        return sum(dataset.num_samples for dataset in self.split(name).values())

    def counts(self) -> dict[str, dict[str, int]]:
        """{"train": {"articles": n, ...}, "test": {...}} for metadata and logs."""
        return {
            name: {str(category): dataset.num_samples for category, dataset in sorted(self.split(name).items())}
            for name in ("train", "test")
        }

    def shared_documents(self) -> set[str]:
        """Source documents that feed both train and test (empty for a split made by document)."""
        train = {doc for dataset in self.train.values() for doc in dataset.document_ids}
        test = {doc for dataset in self.test.values() for doc in dataset.document_ids}
        return train & test

    @classmethod
    def from_huggingface(
        cls,
        dataset_type: DatasetType,
        dataset_dict: Mapping[str, Any],
        category: DataCategory = DataCategory.ARTICLES,
        test_split_size: float | None = None,
    ) -> TrainTestSplit:
        """Back from a `DatasetDict` with `train`/`test` splits (flattened: every row goes to `category`),
        or with `train_<category>`/`test_<category>` splits."""
        train: dict[DataCategory, CategoryDataset] = {}
        test: dict[DataCategory, CategoryDataset] = {}
        for split_name, rows in dataset_dict.items():
            name, _, category_name = str(split_name).partition("_")
            if name not in ("train", "test"):
                raise ValueError(f"Unexpected split {split_name!r}: expected train/test or train_<category>.")
            target = train if name == "train" else test
            chosen = DataCategory(category_name) if category_name else category
            target[chosen] = CategoryDataset.from_rows(dataset_type, chosen, rows)
        if test_split_size is None:
            total = sum(d.num_samples for d in train.values()) + sum(d.num_samples for d in test.values())
            test_split_size = round(sum(d.num_samples for d in test.values()) / total, 4) if total else 0.0
        return cls(dataset_type=dataset_type, train=train, test=test, test_split_size=test_split_size)


class DatasetSamples(BaseModel):
    """Generated (or curated) samples of one dataset type, per category, before the train/test split."""

    dataset_type: DatasetType
    categories: dict[DataCategory, CategoryDataset] = Field(default_factory=dict)

    @classmethod
    def from_samples(
        cls,
        dataset_type: DatasetType,
        samples: Iterable[InstructDatasetSample | PreferenceDatasetSample],
        category_of: Mapping[str, DataCategory],
        default: DataCategory = DataCategory.ARTICLES,
    ) -> DatasetSamples:
        """Group samples by their source document's category (`category_of`: document id -> category)."""
        grouped: dict[DataCategory, list] = {}
        for sample in samples:
            category = category_of.get(sample.document_id or "", default)
            grouped.setdefault(category, []).append(sample)
        return cls(
            dataset_type=dataset_type,
            categories={
                category: CategoryDataset(dataset_type=dataset_type, category=category, samples=items)
                for category, items in sorted(grouped.items())
            },
        )

    def all(self) -> list[InstructDatasetSample | PreferenceDatasetSample]:
        return [sample for category in sorted(self.categories) for sample in self.categories[category].samples]

    @property
    def num_samples(self) -> int:
        return sum(dataset.num_samples for dataset in self.categories.values())

    def counts(self) -> dict[str, int]:
        return {str(category): dataset.num_samples for category, dataset in sorted(self.categories.items())}
