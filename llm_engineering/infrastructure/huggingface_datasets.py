"""The Hugging Face Hub: push and load datasets (`datasets`), push models (`huggingface_hub`); errors
translated to ours. Hub libraries are imported when a call needs them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llm_engineering.domain.datasets import DatasetType, TrainTestSplit
from llm_engineering.infrastructure.errors import DatasetPublishError


@dataclass
class HuggingFaceDatasetPublisher:
    """Pushes a train/test split (categories flattened, the book's columns) to `dataset_id`."""

    token: str | None
    private: bool = False

    def push(self, split: TrainTestSplit, dataset_id: str) -> str:
        """Push and return the dataset's Hub URL. Raises DatasetPublishError with the cause."""
        _require_write_token(self.token)
        if not dataset_id or "/" not in dataset_id:
            raise DatasetPublishError(f"dataset_id must look like `user/name`, got {dataset_id!r}.")
        try:
            split.to_huggingface(flatten=True).push_to_hub(dataset_id, token=self.token, private=self.private)
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


@dataclass
class HuggingFaceModelPublisher:
    """Uploads a model folder (a merged model with its card) to a Hub model repository."""

    token: str | None
    private: bool = False

    def push(self, folder: Path, repo_id: str) -> str:
        """Create `repo_id` if needed, upload `folder` and return the model's Hub URL."""
        _require_write_token(self.token)
        if not repo_id or "/" not in repo_id:
            raise DatasetPublishError(f"The Hub model id must look like `user/name`, got {repo_id!r}.")
        from huggingface_hub import HfApi

        try:
            api = HfApi(token=self.token)
            api.create_repo(repo_id, repo_type="model", private=self.private, exist_ok=True)
            api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model")
        except Exception as error:
            raise DatasetPublishError(f"Pushing the model to {repo_id} failed: {error}") from error
        return f"https://huggingface.co/{repo_id}"


def _require_write_token(token: str | None) -> None:
    if not token:
        raise DatasetPublishError(
            "push_to_huggingface is set but HUGGINGFACE_ACCESS_TOKEN is empty: add a write token to .env."
        )
