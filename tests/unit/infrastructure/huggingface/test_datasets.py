"""The Hub dataset publisher: a Hub failure or a dataset without a train split comes out as
DatasetPublishError with the cause."""

from __future__ import annotations

import sys
import types

import pytest

from llm_engineering.domain.datasets import DatasetType
from llm_engineering.infrastructure.errors import DatasetPublishError
from llm_engineering.infrastructure.huggingface.datasets import HuggingFaceDatasetPublisher


def test_a_hub_dataset_without_a_train_split_or_unreachable_is_a_clear_error(monkeypatch):
    def unreachable(dataset_id, revision=None, token=None):
        raise ConnectionError("no network")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=unreachable))
    with pytest.raises(DatasetPublishError, match="Loading me/data from the Hugging Face Hub failed: no network"):
        HuggingFaceDatasetPublisher(token=None).load("me/data", DatasetType.INSTRUCTION)

    monkeypatch.setitem(
        sys.modules, "datasets", types.SimpleNamespace(load_dataset=lambda *args, **kwargs: {"validation": []})
    )
    with pytest.raises(DatasetPublishError, match="has no train split"):
        HuggingFaceDatasetPublisher(token=None).load("me/data", DatasetType.INSTRUCTION)
