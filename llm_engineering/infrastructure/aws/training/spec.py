"""What one SageMaker training job should be (`TrainingJobSpec`), its validation before anything reaches AWS,
and the exact `create_training_job` request it becomes (the estimator's hyperparameter contract)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from loguru import logger

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.aws.dlc_registries import DLC_ACCOUNTS
from llm_engineering.infrastructure.aws.training.source import (
    FINETUNING_SOURCE_DIR,
    SOURCE_ARCHIVE_NAME,
    safe_archive_name,
)

DEFAULT_ENTRY_POINT = "finetune.py"
REQUIREMENTS_FILE = "requirements.txt"

# The book's training image: transformers 4.36, PyTorch 2.1, Python 3.10, CUDA 12.1; requirements.txt
# is layered on top of it at start-up.
HF_TRAINING_REPOSITORY = "huggingface-pytorch-training"
HF_TRAINING_IMAGE_TAG = "2.1.0-transformers4.36.0-gpu-py310-cu121-ubuntu20.04"

_RESERVED_PREFIX = "sagemaker_"
_RESERVED_COUNT = 5  # sagemaker_program, _submit_directory, _container_log_level, _job_name, _region
_JOB_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
_ROLE_ARN_PATTERN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-/]+")
_ENV_NAME_PATTERN = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_S3_URI_PATTERN = re.compile(r"s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(/.*)?")
_GPU_INSTANCE_PATTERN = re.compile(r"ml\.[pg]\d")  # p3/p4d/p5/g4dn/g5/g6...: NVIDIA GPUs
_TIMESTAMP_LENGTH = len("-2024-01-31-23-59-59-999")
_MAX_RUNTIME_S = 28 * 24 * 3600  # SageMaker's ceiling for MaxRuntimeInSeconds

HyperparameterValue = str | int | float | bool


def huggingface_training_image_uri(region: str, tag: str = HF_TRAINING_IMAGE_TAG) -> str:
    """The Hugging Face PyTorch training image (GPU) for `region`; ImproperlyConfigured for unknown regions."""
    account = DLC_ACCOUNTS.get(region)
    if account is None:
        raise ImproperlyConfigured(
            f"No known Hugging Face training image registry for AWS_REGION={region!r}: "
            "give TrainingJobSpec.image_uri explicitly."
        )
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}/{HF_TRAINING_REPOSITORY}:{tag}"


def unique_job_name(prefix: str, now: dt.datetime | None = None) -> str:
    """`prefix-YYYY-mm-dd-HH-MM-SS-mmm` (UTC), the prefix cut so the name fits SageMaker's 63 characters."""
    moment = now or dt.datetime.now(dt.UTC)
    stamp = moment.strftime("%Y-%m-%d-%H-%M-%S-%f")[:-3]
    head = prefix[: 63 - _TIMESTAMP_LENGTH].rstrip("-")
    return f"{head}-{stamp}"


@dataclass(frozen=True)
class TrainingJobSpec:
    """Everything one training job needs; `validate()` checks it before anything reaches AWS.

    `hyperparameters` become the entry script's `--name value` arguments. `environment` holds secrets
    (Hugging Face and Comet keys): it is sent as the job's Environment and never logged nor shown in
    `repr`. Note that anyone allowed to call DescribeTrainingJob can read it.
    `requirements_file` defaults to `source_dir/requirements.txt`; another file is packed under that name.
    `extra_files` maps a path inside the archive to a local file (for example a shared module).
    """

    role_arn: str | None
    output_s3_uri: str
    region: str = "eu-central-1"
    job_name_prefix: str = "twin-finetuning"
    instance_type: str = "ml.g5.2xlarge"
    instance_count: int = 1
    volume_size_gb: int = 50
    max_runtime_s: int = 24 * 3600
    image_uri: str | None = None
    source_dir: Path = FINETUNING_SOURCE_DIR
    entry_point: str = DEFAULT_ENTRY_POINT
    requirements_file: Path | None = None
    hyperparameters: Mapping[str, HyperparameterValue] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict, repr=False)
    extra_files: Mapping[str, Path] = field(default_factory=dict)
    container_log_level: int = 20  # logging.INFO, what the estimator sent

    def __post_init__(self) -> None:
        # Frozen all the way down: the mappings are copied into read-only views.
        object.__setattr__(self, "source_dir", Path(self.source_dir))
        if self.requirements_file is not None:
            object.__setattr__(self, "requirements_file", Path(self.requirements_file))
        object.__setattr__(self, "hyperparameters", MappingProxyType(dict(self.hyperparameters)))
        object.__setattr__(self, "environment", MappingProxyType(dict(self.environment)))
        extra = {name: Path(path) for name, path in self.extra_files.items()}
        object.__setattr__(self, "extra_files", MappingProxyType(extra))

    @property
    def training_image(self) -> str:
        return self.image_uri or huggingface_training_image_uri(self.region)

    @property
    def requirements_path(self) -> Path:
        return self.requirements_file or self.source_dir / REQUIREMENTS_FILE

    @property
    def has_gpu(self) -> bool:
        return bool(_GPU_INSTANCE_PATTERN.match(self.instance_type))

    def archive_extra_files(self) -> dict[str, Path]:
        """Files packed beside the source folder: `extra_files`, plus the requirements when kept elsewhere."""
        extra = dict(self.extra_files)
        if self.requirements_path.resolve() != (self.source_dir / REQUIREMENTS_FILE).resolve():
            extra[REQUIREMENTS_FILE] = self.requirements_path
        return extra

    def validate(self) -> None:
        """Raise ImproperlyConfigured listing every problem; warn (loguru) about an instance without a GPU."""
        problems = [*self._aws_problems(), *self._source_problems(), *self._parameter_problems()]
        if problems:
            raise ImproperlyConfigured(
                "Cannot start the SageMaker training job:\n" + "\n".join(f"  - {problem}" for problem in problems)
            )
        if not self.has_gpu:
            logger.warning(
                "Instance type {} has no NVIDIA GPU: the Hugging Face training image is a CUDA image and "
                "fine-tuning an LLM there will fail or crawl. The book uses ml.g5.2xlarge (1x A10G 24 GB).",
                self.instance_type,
            )

    def _aws_problems(self) -> list[str]:
        problems = []
        if not self.role_arn:
            problems.append(
                "no SageMaker execution role: set AWS_ARN_ROLE to the ARN of an IAM role SageMaker can assume "
                "(arn:aws:iam::<account-id>:role/<name>)."
            )
        elif not _ROLE_ARN_PATTERN.fullmatch(self.role_arn):
            problems.append(
                f"AWS_ARN_ROLE={self.role_arn!r} is not an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)."
            )
        if not _S3_URI_PATTERN.fullmatch(self.output_s3_uri or ""):
            problems.append(f"output_s3_uri={self.output_s3_uri!r} is not an s3://bucket[/prefix] URI.")
        if not self.instance_type.startswith("ml."):
            problems.append(f"instance_type={self.instance_type!r} is not a SageMaker instance type (ml.*).")
        if self.instance_count < 1:
            problems.append(f"instance_count must be at least 1, got {self.instance_count}.")
        if self.volume_size_gb < 1:
            problems.append(f"volume_size_gb must be at least 1, got {self.volume_size_gb}.")
        if not 1 <= self.max_runtime_s <= _MAX_RUNTIME_S:
            problems.append(f"max_runtime_s must be within 1..{_MAX_RUNTIME_S} (28 days), got {self.max_runtime_s}.")
        if not _JOB_NAME_PATTERN.fullmatch(self.job_name_prefix):
            problems.append(
                f"job_name_prefix={self.job_name_prefix!r} may hold letters, digits and inner hyphens only."
            )
        return problems

    def _source_problems(self) -> list[str]:
        if not self.source_dir.is_dir():
            return [f"source_dir {self.source_dir} is not a folder."]
        problems = []
        if not (self.source_dir / self.entry_point).is_file():
            problems.append(f"entry point {self.entry_point!r} is not in {self.source_dir}.")
        if not self.requirements_path.is_file():
            problems.append(
                f"{self.requirements_path} is missing: the job installs the training dependencies "
                "(TRL, PEFT, Unsloth, ...) from it on top of the image."
            )
        for name, path in self.extra_files.items():
            if not safe_archive_name(name):
                problems.append(f"extra file name {name!r} must be a relative path inside the archive.")
            elif not path.is_file():
                problems.append(f"extra file {path} (for {name!r}) does not exist.")
        return problems

    def _parameter_problems(self) -> list[str]:
        problems = []
        for name, value in self.hyperparameters.items():
            if name.startswith(_RESERVED_PREFIX):
                problems.append(f"hyperparameter {name!r}: names starting with {_RESERVED_PREFIX!r} are SageMaker's.")
            elif not isinstance(value, str | int | float | bool):
                problems.append(
                    f"hyperparameter {name!r} must be a string, number or boolean, got {type(value).__name__}."
                )
            elif len(json.dumps(value)) > 2500:
                problems.append(f"hyperparameter {name!r} is longer than SageMaker's 2500 characters.")
        if len(self.hyperparameters) + _RESERVED_COUNT > 100:
            problems.append("more than 100 hyperparameters (SageMaker's limit, 5 of them reserved).")
        for name, value in self.environment.items():
            if not _ENV_NAME_PATTERN.fullmatch(name):
                problems.append(f"environment variable name {name!r} is not valid.")
            elif not isinstance(value, str):
                problems.append(f"environment variable {name} must be a string.")  # the value is a secret: not shown
        if len(self.environment) > 100:
            problems.append("more than 100 environment variables (SageMaker's limit).")
        return problems


def source_s3_uri(spec: TrainingJobSpec, job_name: str) -> str:
    """Where the job's source archive is uploaded: beside its output, as the estimator did."""
    return f"{spec.output_s3_uri.rstrip('/')}/{job_name}/source/{SOURCE_ARCHIVE_NAME}"


def build_create_training_job_request(spec: TrainingJobSpec, job_name: str | None = None) -> dict[str, Any]:
    """The exact keyword arguments of boto3 `sagemaker.create_training_job` for `spec`.

    Validates the spec first (ImproperlyConfigured). `job_name` defaults to a unique name from the prefix.
    """
    spec.validate()
    name = job_name or unique_job_name(spec.job_name_prefix)
    reserved: dict[str, Any] = {
        "sagemaker_program": spec.entry_point,
        "sagemaker_submit_directory": source_s3_uri(spec, name),
        "sagemaker_container_log_level": spec.container_log_level,
        "sagemaker_job_name": name,
        "sagemaker_region": spec.region,
    }
    hyperparameters = {key: json.dumps(value) for key, value in {**spec.hyperparameters, **reserved}.items()}
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "RoleArn": spec.role_arn,
        "AlgorithmSpecification": {"TrainingImage": spec.training_image, "TrainingInputMode": "File"},
        "HyperParameters": hyperparameters,
        "OutputDataConfig": {"S3OutputPath": spec.output_s3_uri.rstrip("/")},
        "ResourceConfig": {
            "InstanceType": spec.instance_type,
            "InstanceCount": spec.instance_count,
            "VolumeSizeInGB": spec.volume_size_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_runtime_s},
    }
    if spec.environment:
        request["Environment"] = dict(spec.environment)
    return request
