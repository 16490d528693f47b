"""Publish datasets to the Hugging Face Hub (`DatasetDict.push_to_hub`), errors translated to ours."""

from __future__ import annotations

from dataclasses import dataclass

from llm_engineering.domain.datasets import TrainTestSplit
from llm_engineering.infrastructure.errors import DatasetPublishError


@dataclass
class HuggingFaceDatasetPublisher:
    """Pushes a train/test split (categories flattened, the book's columns) to `dataset_id`."""

    token: str | None
    private: bool = False

    def push(self, split: TrainTestSplit, dataset_id: str) -> str:
        """Push and return the dataset's Hub URL. Raises DatasetPublishError with the cause."""
        if not self.token:
            raise DatasetPublishError(
                "push_to_huggingface is set but HUGGINGFACE_ACCESS_TOKEN is empty: add a write token to .env."
            )
        if not dataset_id or "/" not in dataset_id:
            raise DatasetPublishError(f"dataset_id must look like `user/name`, got {dataset_id!r}.")
        try:
            split.to_huggingface(flatten=True).push_to_hub(dataset_id, token=self.token, private=self.private)
        except Exception as error:
            raise DatasetPublishError(f"Pushing {dataset_id} to the Hugging Face Hub failed: {error}") from error
        return f"https://huggingface.co/datasets/{dataset_id}"
