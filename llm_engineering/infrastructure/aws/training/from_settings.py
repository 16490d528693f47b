"""The training job's spec, environment and launcher built from settings: region, role, the Hugging Face and
Comet keys, AWS credentials. Nothing here connects to AWS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.aws.training.launcher import SageMakerTrainingLauncher
from llm_engineering.infrastructure.aws.training.source import finetuning_support_files
from llm_engineering.infrastructure.aws.training.spec import HyperparameterValue, TrainingJobSpec

if TYPE_CHECKING:
    from llm_engineering.settings import Settings


def training_environment(settings: Settings) -> dict[str, str]:
    """The job's environment from settings: Hugging Face and Comet keys under the project's names and
    under the names the libraries read themselves (HF_TOKEN, COMET_PROJECT_NAME). Unset keys are left out."""
    environment: dict[str, str] = {}
    if settings.HUGGINGFACE_ACCESS_TOKEN:
        token = settings.HUGGINGFACE_ACCESS_TOKEN.get_secret_value()
        environment |= {"HUGGINGFACE_ACCESS_TOKEN": token, "HF_TOKEN": token}
    if settings.COMET_API_KEY:
        environment["COMET_API_KEY"] = settings.COMET_API_KEY.get_secret_value()
    if settings.COMET_PROJECT:
        environment |= {"COMET_PROJECT": settings.COMET_PROJECT, "COMET_PROJECT_NAME": settings.COMET_PROJECT}
    return environment


def training_job_spec_from_settings(
    settings: Settings,
    *,
    output_s3_uri: str,
    hyperparameters: Mapping[str, HyperparameterValue] | None = None,
    **overrides: Any,
) -> TrainingJobSpec:
    """A spec with region, role and environment from settings; `overrides` set any other field."""
    if not settings.HUGGINGFACE_ACCESS_TOKEN:
        logger.warning(
            "HUGGINGFACE_ACCESS_TOKEN is empty: the training job cannot load gated base models nor push the model."
        )
    fields: dict[str, Any] = {
        "role_arn": settings.AWS_ARN_ROLE,
        "region": settings.AWS_REGION,
        "output_s3_uri": output_s3_uri,
        "hyperparameters": dict(hyperparameters or {}),
        "environment": training_environment(settings),
        "extra_files": finetuning_support_files(),
    }
    return TrainingJobSpec(**(fields | overrides))


def training_launcher_from_settings(settings: Settings) -> SageMakerTrainingLauncher:
    """A launcher on boto3 `sagemaker` and `s3` clients for AWS_REGION, signed with AWS_ACCESS_KEY and
    AWS_SECRET_KEY when both are set (else boto3's default credential chain). Connects to nothing yet."""
    import boto3
    from botocore.config import Config

    access_key = settings.AWS_ACCESS_KEY.get_secret_value() if settings.AWS_ACCESS_KEY else None
    secret_key = settings.AWS_SECRET_KEY.get_secret_value() if settings.AWS_SECRET_KEY else None
    if bool(access_key) != bool(secret_key):
        raise ImproperlyConfigured("AWS_ACCESS_KEY and AWS_SECRET_KEY go together: set both or neither.")
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=settings.AWS_REGION
    )
    config = Config(retries={"max_attempts": 5, "mode": "standard"})
    return SageMakerTrainingLauncher(session.client("sagemaker", config=config), session.client("s3", config=config))
