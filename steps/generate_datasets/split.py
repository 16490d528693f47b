"""Steps: split curated samples into train and test by source document, then decontaminate train."""

from __future__ import annotations

from typing import Annotated, Any

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.domain.datasets import DatasetSamples, TrainTestSplit
from steps.materializers import TrainTestSplitMaterializer


def _split(samples: DatasetSamples, test_split_size: float, seed: int, decontamination: dict[str, Any] | None):
    from llm_engineering.application.datasets.service import CurationOptions, split_dataset

    options = CurationOptions(
        decontamination_ngram=int((decontamination or {}).get("ngram", 8)),
        decontamination_max_overlap=float((decontamination or {}).get("max_overlap", 0.5)),
    )
    split, split_report, decontaminated = split_dataset(
        samples.dataset_type,
        {category: dataset.samples for category, dataset in samples.categories.items()},
        test_split_size,
        options,
        seed=seed,
    )
    if not split.num_samples("train"):
        from llm_engineering.application.errors import DatasetGenerationError

        raise DatasetGenerationError(
            f"No {samples.dataset_type} training samples are left after curation and the split; see the "
            "metadata of the generate and curate steps for what was removed and why."
        )
    logger.info("Split {}: train {}, test {}.", split.artifact_name, split.counts()["train"], split.counts()["test"])
    log_metadata(
        metadata={
            "dataset_type": str(samples.dataset_type),
            "test_split_size": test_split_size,
            "num_train": split.num_samples("train"),
            "num_test": split.num_samples("test"),
            "counts": split.counts(),
            "split": split_report.as_metadata(),
            "decontamination": decontaminated.as_metadata(),
            "shared_documents": len(split.shared_documents()),
        },
        infer_artifact=True,
    )
    return split


@step(output_materializers=TrainTestSplitMaterializer)
def split_instruction_dataset(
    samples: DatasetSamples, test_split_size: float = 0.1, seed: int = 42, decontamination: dict | None = None
) -> Annotated[TrainTestSplit, "instruct_datasets"]:
    """Train/test instruct dataset; no document on both sides, train decontaminated against test."""
    return _split(samples, test_split_size, seed, decontamination)


@step(output_materializers=TrainTestSplitMaterializer)
def split_preference_dataset(
    samples: DatasetSamples, test_split_size: float = 0.05, seed: int = 42, decontamination: dict | None = None
) -> Annotated[TrainTestSplit, "preference_datasets"]:
    """Train/test preference dataset; no document on both sides, train decontaminated against test."""
    return _split(samples, test_split_size, seed, decontamination)
