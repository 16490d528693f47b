"""Steps: a dataset from a file, an exported folder or the Hub (when training does not use the latest
`generate_datasets` artifact), and mixing a public instruct dataset into the SFT train split."""

from __future__ import annotations

from typing import Annotated

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.domain.datasets import TrainTestSplit
from steps.materializers import TrainTestSplitMaterializer

HUB_PREFIX = "hf:"


@step(output_materializers=TrainTestSplitMaterializer)
def load_dataset_file(source: str, dataset_type: str) -> Annotated[TrainTestSplit, "loaded_dataset"]:
    """The dataset at `source`: the book's export, an `export_artifact_to_json` file, a folder written by the
    dataset pipeline, or `hf:<user/name>` on the Hugging Face Hub. Fails unless it holds `dataset_type`
    samples."""
    from llm_engineering.application.errors import DatasetFileError
    from llm_engineering.domain.datasets import DatasetType
    from llm_engineering.model.dataset_files import load_dataset_source

    if source.startswith(HUB_PREFIX):
        from llm_engineering import bootstrap

        publisher = bootstrap.container().dataset_publisher()
        dataset = publisher.load(source.removeprefix(HUB_PREFIX), DatasetType(dataset_type))
    else:
        dataset = load_dataset_source(source)
    if str(dataset.dataset_type) != dataset_type:
        raise DatasetFileError(f"{source} holds a {dataset.dataset_type} dataset, not {dataset_type}.")
    logger.info("Loaded {} from {}: {}", dataset.artifact_name, source, dataset.counts())
    log_metadata(metadata={"source": source, **dataset.counts()}, infer_artifact=True)
    return dataset


@step(output_materializers=TrainTestSplitMaterializer)
def mix_instruct_datasets(
    dataset: TrainTestSplit, extra: TrainTestSplit, max_samples: int, seed: int = 0
) -> Annotated[TrainTestSplit, "mixed_instruct_datasets"]:
    """The author's instruct dataset with up to `max_samples` train samples of `extra` added (test untouched)."""
    from llm_engineering.application.datasets.splitting import mix_in_train_samples

    mixed = mix_in_train_samples(dataset, extra, max_samples, seed)
    added = mixed.num_samples("train") - dataset.num_samples("train")
    logger.info("Mixed {} extra instruct samples into the train split ({} in all)", added, mixed.num_samples("train"))
    log_metadata(metadata={"extra_train_samples": added, **mixed.counts()}, infer_artifact=True)
    return mixed
