"""The training job's environment, spec and launcher built from settings, without calling AWS."""

from __future__ import annotations

import pytest

from llm_engineering.bootstrap.builders.aws import (
    build_training_launcher,
    training_environment,
    training_job_spec,
)
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.aws.training.spec import build_create_training_job_request
from llm_engineering.settings import load_settings
from tests.unit.infrastructure.aws.training.conftest import JOB, ROLE, SECRET


def test_environment_and_spec_come_from_settings(source_dir):
    settings = load_settings(
        AWS_REGION="us-east-1",
        AWS_ARN_ROLE=ROLE,
        HUGGINGFACE_ACCESS_TOKEN=SECRET,
        COMET_API_KEY="comet-key",
        COMET_PROJECT="twin",
    )
    assert training_environment(settings) == {
        "HUGGINGFACE_ACCESS_TOKEN": SECRET,
        "HF_TOKEN": SECRET,
        "COMET_API_KEY": "comet-key",
        "COMET_PROJECT": "twin",
        "COMET_PROJECT_NAME": "twin",
    }
    spec = training_job_spec(
        settings,
        output_s3_uri="s3://twin-bucket/training",
        hyperparameters={"finetuning_type": "dpo"},
        source_dir=source_dir,
    )
    assert (spec.role_arn, spec.region, dict(spec.hyperparameters)) == (ROLE, "us-east-1", {"finetuning_type": "dpo"})
    assert spec.environment["HF_TOKEN"] == SECRET
    assert build_create_training_job_request(spec, JOB)["Environment"]["COMET_API_KEY"] == "comet-key"


def test_the_launcher_factory_builds_regional_clients_without_calling_aws():
    settings = load_settings(AWS_REGION="us-east-1", AWS_ACCESS_KEY="AKIAFAKE", AWS_SECRET_KEY="fake-secret")
    launcher = build_training_launcher(settings)
    assert launcher.sagemaker.meta.service_model.service_name == "sagemaker"
    assert launcher.s3.meta.service_model.service_name == "s3"
    assert launcher.sagemaker.meta.region_name == launcher.s3.meta.region_name == "us-east-1"
    with pytest.raises(ImproperlyConfigured, match="go together"):
        build_training_launcher(load_settings(AWS_ACCESS_KEY="AKIAFAKE"))
