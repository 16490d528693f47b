"""`TrainingJobSpec`: the `create_training_job` request it becomes, its defaults and image, and the problems
`validate()` reports before anything reaches AWS."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.aws.training.source import FINETUNING_SOURCE_DIR
from llm_engineering.infrastructure.aws.training.spec import (
    TrainingJobSpec,
    build_create_training_job_request,
    huggingface_training_image_uri,
    unique_job_name,
)
from tests.unit.infrastructure.aws.training.conftest import JOB, ROLE, SECRET, make_spec

IMAGE_US_EAST_1 = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
    "huggingface-pytorch-training:2.1.0-transformers4.36.0-gpu-py310-cu121-ubuntu20.04"
)


# --- The request --------------------------------------------------------------------------------------------
def test_the_request_is_the_estimators_contract_in_boto3_shape(source_dir):
    request = build_create_training_job_request(make_spec(source_dir), JOB)
    assert request == {
        "TrainingJobName": JOB,
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": IMAGE_US_EAST_1, "TrainingInputMode": "File"},
        "HyperParameters": {
            "finetuning_type": '"sft"',
            "learning_rate": "0.0003",
            "num_train_epochs": "3",
            "is_dummy": "true",
            "sagemaker_program": '"finetune.py"',
            "sagemaker_submit_directory": f'"s3://twin-bucket/training/{JOB}/source/sourcedir.tar.gz"',
            "sagemaker_container_log_level": "20",
            "sagemaker_job_name": f'"{JOB}"',
            "sagemaker_region": '"us-east-1"',
        },
        "OutputDataConfig": {"S3OutputPath": "s3://twin-bucket/training"},
        "ResourceConfig": {"InstanceType": "ml.g5.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "Environment": {"HUGGINGFACE_ACCESS_TOKEN": SECRET, "COMET_PROJECT": "twin"},
    }
    # The container's toolkit JSON-decodes every value back into the script's arguments.
    assert json.loads(request["HyperParameters"]["learning_rate"]) == 3e-4


def test_defaults_follow_the_book_and_the_project_folder():
    spec = TrainingJobSpec(role_arn=ROLE, output_s3_uri="s3://b/p")
    assert (spec.instance_type, spec.instance_count, spec.entry_point) == ("ml.g5.2xlarge", 1, "finetune.py")
    assert spec.source_dir == FINETUNING_SOURCE_DIR
    assert spec.source_dir.parts[-3:] == ("llm_engineering", "model", "finetuning")
    assert spec.requirements_path == FINETUNING_SOURCE_DIR / "requirements.txt"


def test_image_uri_per_region_or_as_given(source_dir):
    assert huggingface_training_image_uri("us-east-1") == IMAGE_US_EAST_1
    assert huggingface_training_image_uri("eu-central-1").startswith("763104351884.dkr.ecr.eu-central-1.amazonaws.com/")
    assert huggingface_training_image_uri("af-south-1").startswith("626614931356.dkr.ecr.af-south-1.amazonaws.com/")
    assert huggingface_training_image_uri("cn-north-1").startswith("727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/")
    with pytest.raises(ImproperlyConfigured, match="image_uri"):
        huggingface_training_image_uri("xx-nowhere-1")
    own = "111122223333.dkr.ecr.us-east-1.amazonaws.com/twin-train:1"
    request = build_create_training_job_request(make_spec(source_dir, image_uri=own), JOB)
    assert request["AlgorithmSpecification"]["TrainingImage"] == own


def test_unique_job_names_fit_sagemakers_pattern():
    name = unique_job_name("twin-ft", dt.datetime(2025, 1, 2, 3, 4, 5, 678000))
    assert name == JOB
    long = unique_job_name("a-very-long-prefix-" * 5)
    assert len(long) <= 63
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", long)


def test_spec_is_frozen_and_keeps_secrets_out_of_its_repr(source_dir):
    spec = make_spec(source_dir)
    assert SECRET not in repr(spec)
    with pytest.raises(TypeError):
        spec.environment["HF_TOKEN"] = "x"  # type: ignore[index]


# --- Validation ----------------------------------------------------------------------------------------------
def test_missing_requirements_and_entry_point_are_reported_together(source_dir):
    (source_dir / "requirements.txt").unlink()
    spec = make_spec(source_dir, entry_point="train.py", output_s3_uri="twin-bucket/training")
    with pytest.raises(ImproperlyConfigured) as caught:
        spec.validate()
    message = str(caught.value)
    assert "requirements.txt is missing" in message
    assert "entry point 'train.py' is not in" in message
    assert "is not an s3://bucket[/prefix] URI" in message


def test_bad_parameters_are_refused(source_dir):
    spec = make_spec(
        source_dir,
        hyperparameters={"sagemaker_program": "x.py", "layers": [1, 2]},
        environment={"BAD-NAME": "x"},
        instance_count=0,
        max_runtime_s=0,
        job_name_prefix="twin_ft",
        extra_files={"../escape.py": source_dir / "finetune.py"},
    )
    with pytest.raises(ImproperlyConfigured) as caught:
        spec.validate()
    message = str(caught.value)
    for expected in (
        "'sagemaker_program': names starting with 'sagemaker_' are SageMaker's",
        "'layers' must be a string, number or boolean",
        "environment variable name 'BAD-NAME'",
        "instance_count must be at least 1",
        "max_runtime_s must be within",
        "job_name_prefix='twin_ft'",
        "extra file name '../escape.py'",
    ):
        assert expected in message


def test_an_instance_without_a_gpu_is_allowed_with_a_warning(source_dir, log_messages):
    request = build_create_training_job_request(make_spec(source_dir, instance_type="ml.m5.xlarge"), JOB)
    assert request["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert any(line.startswith("WARNING") and "has no NVIDIA GPU" in line for line in log_messages)
    log_messages.clear()
    build_create_training_job_request(make_spec(source_dir, instance_type="ml.p4d.24xlarge"), JOB)
    assert not any("has no NVIDIA GPU" in line for line in log_messages)
