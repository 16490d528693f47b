"""Models on the Hugging Face Hub: upload a model folder (a merged model with its card) to a model repository
with `huggingface_hub`, imported when a push needs it; its errors come out as `DatasetPublishError`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llm_engineering.infrastructure.errors import DatasetPublishError
from llm_engineering.infrastructure.huggingface.write_token import require_write_token


@dataclass
class HuggingFaceModelPublisher:
    """Uploads a model folder (a merged model with its card) to a Hub model repository."""

    token: str | None
    private: bool = False

    def push(self, folder: Path, repo_id: str) -> str:
        """Create `repo_id` if needed, upload `folder` and return the model's Hub URL."""
        require_write_token(self.token)
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
