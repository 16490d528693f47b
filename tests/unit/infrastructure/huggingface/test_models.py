"""The Hub model publisher refuses to start without a write token or a `user/name` id, naming it, before any
network call, and pushes by creating the repository then uploading the folder."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from llm_engineering.infrastructure.errors import DatasetPublishError
from llm_engineering.infrastructure.huggingface.models import HuggingFaceModelPublisher


def test_model_push_needs_a_token_and_a_user_slash_name_id(tmp_path: Path):
    with pytest.raises(DatasetPublishError, match="HUGGINGFACE_ACCESS_TOKEN is empty"):
        HuggingFaceModelPublisher(token=None).push(tmp_path, "me/twin")
    with pytest.raises(DatasetPublishError, match="must look like `user/name`"):
        HuggingFaceModelPublisher(token="hf_x").push(tmp_path, "twin")


def test_model_push_creates_the_repo_then_uploads_the_folder(tmp_path: Path, monkeypatch):
    calls: list[tuple] = []

    class FakeApi:
        def __init__(self, token):
            calls.append(("token", token))

        def create_repo(self, repo_id, repo_type, private, exist_ok):
            calls.append(("create", repo_id, repo_type, private, exist_ok))

        def upload_folder(self, folder_path, repo_id, repo_type):
            calls.append(("upload", folder_path, repo_id, repo_type))

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(HfApi=FakeApi))

    url = HuggingFaceModelPublisher(token="hf_x").push(tmp_path, "me/twin")

    assert url == "https://huggingface.co/me/twin"
    assert calls == [
        ("token", "hf_x"),
        ("create", "me/twin", "model", False, True),
        ("upload", str(tmp_path), "me/twin", "model"),
    ]
