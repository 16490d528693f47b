"""Builders of the AWS adapters from settings: the boto3 session, the SageMaker training job (spec, environment,
launcher), the inference endpoint (spec, deployer) and the IAM setup. Nothing here calls AWS."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from llm_engineering.infrastructure.aws.deploy import AutoscalingSpec, EndpointSpec, SageMakerEndpointDeployer
    from llm_engineering.infrastructure.aws.roles import SageMakerIam
    from llm_engineering.infrastructure.aws.training.launcher import SageMakerTrainingLauncher
    from llm_engineering.infrastructure.aws.training.spec import HyperparameterValue, TrainingJobSpec
    from llm_engineering.settings import Settings


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value else None


def aws_session(settings: Settings) -> Any:
    """A boto3 Session for AWS_REGION, signed with AWS_ACCESS_KEY / AWS_SECRET_KEY when both are set (else
    boto3's own credential chain). Connects to nothing."""
    from llm_engineering.infrastructure.aws.session import aws_session as session_for

    return session_for(settings.AWS_REGION, _secret(settings.AWS_ACCESS_KEY), _secret(settings.AWS_SECRET_KEY))


# --- Training ----------------------------------------------------------------------------------------------
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


def training_job_spec(
    settings: Settings,
    *,
    output_s3_uri: str,
    hyperparameters: Mapping[str, HyperparameterValue] | None = None,
    **overrides: Any,
) -> TrainingJobSpec:
    """A training job spec with region, role and environment from settings; `overrides` set any other field."""
    from llm_engineering.infrastructure.aws.training.source import finetuning_support_files
    from llm_engineering.infrastructure.aws.training.spec import TrainingJobSpec

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


def build_training_launcher(settings: Settings, session: Any = None) -> SageMakerTrainingLauncher:
    """A launcher on boto3 `sagemaker` and `s3` clients for AWS_REGION (from `session`, else one built from
    settings). Connects to nothing yet."""
    from llm_engineering.infrastructure.aws.session import client_config
    from llm_engineering.infrastructure.aws.training.launcher import SageMakerTrainingLauncher

    session = session or aws_session(settings)
    config = client_config()
    return SageMakerTrainingLauncher(session.client("sagemaker", config=config), session.client("s3", config=config))


# --- Inference endpoint ----------------------------------------------------------------------------------
def autoscaling_spec(settings: Settings) -> AutoscalingSpec:
    from llm_engineering.infrastructure.aws.deploy import AutoscalingSpec

    return AutoscalingSpec(
        min_capacity=settings.SAGEMAKER_AUTOSCALING_MIN_COPIES,
        max_capacity=settings.SAGEMAKER_AUTOSCALING_MAX_COPIES,
        target_invocations=settings.SAGEMAKER_AUTOSCALING_TARGET_INVOCATIONS,
        scale_in_cooldown_s=settings.SAGEMAKER_AUTOSCALING_SCALE_IN_COOLDOWN_S,
        scale_out_cooldown_s=settings.SAGEMAKER_AUTOSCALING_SCALE_OUT_COOLDOWN_S,
    )


def endpoint_spec(settings: Settings, *, autoscaling: bool | None = None, **overrides: Any) -> EndpointSpec:
    """The endpoint the settings describe; `autoscaling` (None = SAGEMAKER_AUTOSCALING) and `overrides` win."""
    from llm_engineering.infrastructure.aws.deploy import EndpointSpec, EndpointType

    scaling = settings.SAGEMAKER_AUTOSCALING if autoscaling is None else autoscaling
    fields: dict[str, Any] = {
        "role_arn": settings.AWS_ARN_ROLE,
        "region": settings.AWS_REGION,
        "endpoint_name": settings.SAGEMAKER_ENDPOINT_INFERENCE,
        "endpoint_config_name": settings.SAGEMAKER_ENDPOINT_CONFIG_INFERENCE,
        "endpoint_type": EndpointType(settings.SAGEMAKER_ENDPOINT_TYPE),
        "inference_component_name": settings.SAGEMAKER_INFERENCE_COMPONENT,
        "container": settings.SAGEMAKER_CONTAINER,
        "image_uri": settings.SAGEMAKER_INFERENCE_IMAGE_URI,
        "tgi_image_tag": settings.SAGEMAKER_TGI_IMAGE_TAG,
        "lmi_image_tag": settings.SAGEMAKER_LMI_IMAGE_TAG,
        "model_id": settings.HF_MODEL_ID,
        "instance_type": settings.GPU_INSTANCE_TYPE,
        "instance_count": settings.SAGEMAKER_INSTANCE_COUNT,
        "startup_timeout_s": settings.SAGEMAKER_STARTUP_TIMEOUT_S,
        "num_gpus": settings.SM_NUM_GPUS,
        "max_input_length": settings.MAX_INPUT_LENGTH,
        "max_total_tokens": settings.MAX_TOTAL_TOKENS,
        "max_batch_total_tokens": settings.MAX_BATCH_TOTAL_TOKENS,
        "max_batch_prefill_tokens": settings.MAX_BATCH_PREFILL_TOKENS,
        "quantize": settings.HF_MODEL_QUANTIZE,
        "copies": settings.COPIES,
        "gpus": settings.GPUS,
        "cpus": settings.CPUS,
        "autoscaling": autoscaling_spec(settings) if scaling else None,
        "hf_token": _secret(settings.HUGGINGFACE_ACCESS_TOKEN),
    }
    return EndpointSpec(**(fields | overrides))


def build_endpoint_deployer(settings: Settings, session: Any = None, **options: Any) -> SageMakerEndpointDeployer:
    """A deployer on boto3 `sagemaker` and `application-autoscaling` clients for AWS_REGION (from `session`,
    else one built from settings). Connects to nothing."""
    from llm_engineering.infrastructure.aws.deploy import SageMakerEndpointDeployer
    from llm_engineering.infrastructure.aws.session import client_config

    session = session or aws_session(settings)
    config = client_config()
    return SageMakerEndpointDeployer(
        session.client("sagemaker", config=config),
        session.client("application-autoscaling", config=config),
        **options,
    )


def build_sagemaker_iam(
    settings: Settings, session: Any = None, progress: Callable[[str], None] = logger.info
) -> SageMakerIam:
    """IAM on a boto3 `iam` client for AWS_REGION's partition (signed with the settings' keys when set).
    Connects to nothing."""
    from llm_engineering.infrastructure.aws.roles import SageMakerIam
    from llm_engineering.infrastructure.aws.session import aws_partition, client_config

    session = session or aws_session(settings)
    return SageMakerIam(session.client("iam", config=client_config()), aws_partition(settings.AWS_REGION), progress)
