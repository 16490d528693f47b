"""Steps: write a dataset to disk (JSONL, optionally Parquet) and push it to the Hugging Face Hub."""

from __future__ import annotations

from typing import Annotated

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.domain.datasets import TrainTestSplit


@step
def export_dataset(
    dataset: TrainTestSplit, output_dir: str, formats: list[str] | None = None
) -> Annotated[str, "export_dir"]:
    """Write `output_dir/<artifact name>/{train,test}.jsonl` (+ parquet) and `dataset_info.json`; return the folder."""
    from pathlib import Path

    from llm_engineering.model.dataset_files import export_split

    written = export_split(dataset, Path(output_dir), formats=tuple(formats or ("jsonl",)))
    folder = Path(output_dir) / dataset.artifact_name
    logger.info("Exported {} to {}.", dataset.artifact_name, folder)
    log_metadata(
        metadata={
            "folder": str(folder),
            "files": {key: [str(path) for path in paths] for key, paths in written.items()},
        },
        infer_artifact=True,
    )
    return str(folder)


@step
def push_to_huggingface(dataset: TrainTestSplit, dataset_id: str) -> Annotated[str, "dataset_url"]:
    """Push the dataset (categories flattened; columns `instruction, output` or `prompt, chosen, rejected`)."""
    from llm_engineering import bootstrap

    url = bootstrap.container().dataset_publisher().push(dataset, dataset_id)
    logger.info("Pushed {} to {}.", dataset.artifact_name, url)
    log_metadata(metadata={"dataset_id": dataset_id, "url": url, **dataset.counts()}, infer_artifact=True)
    return url
