"""Train/test split by source document: no document feeds both sides, so the test set is truly held out."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_engineering.domain.datasets import CategoryDataset, DatasetSample, DatasetType, TrainTestSplit
from llm_engineering.domain.types import DataCategory


@dataclass
class SplitReport:
    """Per category: documents and samples on each side, and categories too small to hold out a document."""

    documents: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: dict[str, dict[str, int]] = field(default_factory=dict)
    categories_without_test: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "samples": self.samples,
            "categories_without_test": self.categories_without_test,
        }


def _group_key(sample: DatasetSample, index: int) -> str:
    # Samples without a source document (imported files) are their own group.
    return sample.document_id or f"sample-{index}"


def split_by_document(
    dataset_type: DatasetType,
    samples_by_category: dict[DataCategory, Sequence[DatasetSample]],
    test_size: float,
    seed: int = 42,
) -> tuple[TrainTestSplit, SplitReport]:
    """Per category, hold out whole documents until the test side has about `test_size` of the samples.

    Documents are shuffled with `seed` (deterministic). A category with a single document, or
    `test_size` 0, keeps everything in train (listed in `categories_without_test`). Sample order within
    each side follows the input order.
    """
    if not 0 <= test_size < 1:
        raise ValueError(f"test_size must be within [0, 1), got {test_size}")
    report = SplitReport()
    train: dict[DataCategory, CategoryDataset] = {}
    test: dict[DataCategory, CategoryDataset] = {}
    for category in sorted(samples_by_category):
        samples = list(samples_by_category[category])
        groups: dict[str, list[int]] = defaultdict(list)
        for index, sample in enumerate(samples):
            groups[_group_key(sample, index)].append(index)
        keys = sorted(groups)
        random.Random(f"{seed}:{category}").shuffle(keys)
        target = round(test_size * len(samples))
        held_out: set[str] = set()
        held = 0
        if test_size > 0 and len(keys) > 1:
            limit = max(target, 1) * 1.2  # a little slack, so one big document does not overshoot much
            for key in keys:
                # Never hold out the last document: train keeps at least one.
                if held >= max(target, 1) or len(held_out) == len(keys) - 1:
                    break
                size = len(groups[key])
                if held + size <= limit:
                    held_out.add(key)
                    held += size
            if not held_out:  # every document is bigger than the target: hold out the smallest one
                smallest = min(keys, key=lambda key: (len(groups[key]), key))
                held_out.add(smallest)
        if not held_out and samples:
            report.categories_without_test.append(str(category))
        test_indices = {index for key in held_out for index in groups[key]}
        train_samples = [sample for index, sample in enumerate(samples) if index not in test_indices]
        test_samples = [sample for index, sample in enumerate(samples) if index in test_indices]
        train[category] = CategoryDataset(dataset_type=dataset_type, category=category, samples=train_samples)
        test[category] = CategoryDataset(dataset_type=dataset_type, category=category, samples=test_samples)
        report.documents[str(category)] = {"train": len(keys) - len(held_out), "test": len(held_out)}
        report.samples[str(category)] = {"train": len(train_samples), "test": len(test_samples)}
    split = TrainTestSplit(dataset_type=dataset_type, train=train, test=test, test_split_size=test_size)
    return split, report


def mix_in_train_samples(dataset: TrainTestSplit, extra: TrainTestSplit, max_samples: int, seed: int) -> TrainTestSplit:
    """`dataset` with up to `max_samples` train samples of `extra` (a seeded draw) added to its train split,
    each under its own category; the test split stays `dataset`'s own, so held-out figures still measure the
    author's text. Raises ValueError when the two hold different dataset types."""
    if extra.dataset_type != dataset.dataset_type:
        raise ValueError(f"Cannot mix a {extra.dataset_type} dataset into a {dataset.dataset_type} dataset.")
    pool = [(category, sample) for category in sorted(extra.train) for sample in extra.train[category].samples]
    drawn = random.Random(seed).sample(pool, min(max_samples, len(pool))) if max_samples > 0 else []
    train = {category: list(part.samples) for category, part in dataset.train.items()}
    for category, sample in drawn:
        train.setdefault(category, []).append(sample)
    return dataset.model_copy(
        update={
            "train": {
                category: CategoryDataset(dataset_type=dataset.dataset_type, category=category, samples=samples)
                for category, samples in train.items()
            }
        }
    )
