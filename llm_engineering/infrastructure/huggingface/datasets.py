"""Fine-tuning datasets on the Hugging Face Hub: push a train/test split and load one back, with the book's
columns; `datasets` is imported when a call needs it and its errors come out as `DatasetPublishError`."""

from __future__ import annotations

from dataclasses import dataclass

from llm_engineering.domain.datasets import DatasetType, TrainTestSplit
from llm_engineering.infrastructure.errors import DatasetPublishError
from llm_engineering.infrastructure.huggingface.write_token import require_write_token
from llm_engineering.model.hf_datasets import split_tables


@dataclass
class HuggingFaceDatasetPublisher:
    """Pushes a train/test split (categories flattened, the book's columns) to `dataset_id`."""

    token: str | None
    private: bool = False

    def push(self, split: TrainTestSplit, dataset_id: str) -> str:
        """Push and return the dataset's Hub URL. Raises DatasetPublishError with the cause."""
        require_write_token(self.token)
        if not dataset_id or "/" not in dataset_id:
            raise DatasetPublishError(f"dataset_id must look like `user/name`, got {dataset_id!r}.")
        try:
            split_tables(split, flatten=True).push_to_hub(dataset_id, token=self.token, private=self.private)
        except Exception as error:
            raise DatasetPublishError(f"Pushing {dataset_id} to the Hugging Face Hub failed: {error}") from error
        return f"https://huggingface.co/datasets/{dataset_id}"

    def load(self, dataset_id: str, dataset_type: DatasetType, revision: str | None = None) -> TrainTestSplit:
        """A Hub dataset with the book's columns (`instruction, output` or `prompt, chosen, rejected`) as a
        split; a dataset with a train split only gets an empty test split. Raises DatasetPublishError when
        the Hub cannot be reached or the columns do not match."""
        from datasets import load_dataset

        try:
            loaded = load_dataset(dataset_id, revision=revision, token=self.token)
        except Exception as error:
            raise DatasetPublishError(f"Loading {dataset_id} from the Hugging Face Hub failed: {error}") from error
        splits = {name: rows for name, rows in loaded.items() if name in ("train", "test")}
        if "train" not in splits:
            raise DatasetPublishError(f"{dataset_id} has no train split (splits: {sorted(loaded)}).")
        try:
            return TrainTestSplit.from_huggingface(dataset_type, splits)
        except (KeyError, ValueError) as error:
            raise DatasetPublishError(f"{dataset_id} does not hold {dataset_type} samples: {error}") from error
