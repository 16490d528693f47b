"""Fine-tuning datasets as Hugging Face tables: the book's column layout (`instruction, output` for instruct
samples, `prompt, chosen, rejected` for preference samples), optionally with the provenance columns.

Used to publish a dataset on the Hub and by the tests that read one back; `datasets` is imported inside the
functions, so importing this module loads nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llm_engineering.domain.datasets import CategoryDataset, Provenance, TrainTestSplit, sample_type
from llm_engineering.domain.types import DataCategory

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict


def category_table(dataset: CategoryDataset, with_provenance: bool = False) -> Dataset:
    """One category's samples as a `Dataset` (an empty one keeps the columns)."""
    from datasets import Dataset

    columns = list(sample_type(dataset.dataset_type).HF_COLUMNS)
    rows = [sample.to_row(with_provenance) for sample in dataset.samples]
    if not rows:
        if with_provenance:
            columns += list(Provenance().as_columns())
        return Dataset.from_dict({column: [] for column in columns})
    return Dataset.from_list(rows)


def split_tables(split: TrainTestSplit, flatten: bool = True, with_provenance: bool = False) -> DatasetDict:
    """`DatasetDict(train, test)`, categories concatenated (`flatten`) or as `train_<category>` splits."""
    from datasets import DatasetDict, concatenate_datasets

    parts: dict[str, Dataset] = {}
    for name in ("train", "test"):
        categories = split.split(name)
        if flatten:
            tables = [category_table(categories[category], with_provenance) for category in sorted(categories)]
            tables = [table for table in tables if len(table)] or [
                category_table(
                    CategoryDataset(dataset_type=split.dataset_type, category=DataCategory.ARTICLES), with_provenance
                )
            ]
            parts[name] = concatenate_datasets(tables) if len(tables) > 1 else tables[0]
        else:
            for category in sorted(categories):
                parts[f"{name}_{category}"] = category_table(categories[category], with_provenance)
    return DatasetDict(parts)
