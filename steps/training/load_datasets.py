"""Step: a dataset file or exported folder as a dataset artifact (when training does not use the latest
`generate_datasets` artifact)."""

from __future__ import annotations

from typing import Annotated

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.domain.datasets import TrainTestSplit
from steps.materializers import TrainTestSplitMaterializer


@step(output_materializers=TrainTestSplitMaterializer)
def load_dataset_file(source: str, dataset_type: str) -> Annotated[TrainTestSplit, "training_dataset"]:
    """The dataset at `source` (the book's export, an `export_artifact_to_json` file, or a folder written by
    the dataset pipeline); fails unless it holds `dataset_type` samples."""
    from llm_engineering.application.datasets.dataset_files import load_dataset_source
    from llm_engineering.application.errors import DatasetFileError

    dataset = load_dataset_source(source)
    if str(dataset.dataset_type) != dataset_type:
        raise DatasetFileError(f"{source} holds a {dataset.dataset_type} dataset, not {dataset_type}.")
    logger.info("Loaded {} from {}: {}", dataset.artifact_name, source, dataset.counts())
    log_metadata(metadata={"source": source, **dataset.counts()}, infer_artifact=True)
    return dataset
