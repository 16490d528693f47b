"""Shared by the SageMaker training-job tests: fake AWS keys (boto3 never looks further), a small fine-tuning
folder, a spec on it, and the log lines loguru writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from loguru import logger

from llm_engineering.infrastructure.aws.training.spec import TrainingJobSpec

ROLE = "arn:aws:iam::123456789012:role/twin-sagemaker-execution"
JOB = "twin-ft-2025-01-02-03-04-05-678"
SECRET = "hf_secret_token_value"


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch, tmp_path):
    """Fake keys in the environment and no shared config, so boto3 never looks further (nor at IMDS)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "finetuning"
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "finetune.py").write_text("print('training')\n")
    (folder / "requirements.txt").write_text("trl==0.9.6\n")
    (folder / "recipes").mkdir()
    (folder / "recipes" / "sft.yaml").write_text("learning_rate: 3e-4\n")
    (folder / "__pycache__" / "finetune.cpython-311.pyc").write_bytes(b"\0")
    (folder / ".env").write_text("HUGGINGFACE_ACCESS_TOKEN=never-packed\n")
    return folder


def make_spec(source_dir: Path, **overrides) -> TrainingJobSpec:
    fields = {
        "role_arn": ROLE,
        "output_s3_uri": "s3://twin-bucket/training/",
        "region": "us-east-1",
        "job_name_prefix": "twin-ft",
        "source_dir": source_dir,
        "hyperparameters": {"finetuning_type": "sft", "learning_rate": 3e-4, "num_train_epochs": 3, "is_dummy": True},
        "environment": {"HUGGINGFACE_ACCESS_TOKEN": SECRET, "COMET_PROJECT": "twin"},
    }
    return TrainingJobSpec(**(fields | overrides))


@pytest.fixture
def log_messages():
    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(str(message)), format="{level} {message}", level="INFO")
    yield messages
    logger.remove(sink)
