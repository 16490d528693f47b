"""What one SageMaker LLM endpoint should look like: container, model source, hardware, autoscaling.

`EndpointSpec` is built from settings (`bootstrap.builders.aws.endpoint_spec`) and checked by `problems()` before
anything reaches AWS. The serving container is the Hugging Face LLM DLC (TGI) by default, or the LMI
container (DJL Serving with vLLM); both read their configuration from environment variables.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.aws.calls import PROJECT_TAG
from llm_engineering.infrastructure.aws.dlc_registries import DLC_ACCOUNTS

TGI_REPOSITORY = "huggingface-pytorch-tgi-inference"
LMI_REPOSITORY = "djl-inference"
MODEL_DIR_IN_CONTAINER = "/opt/ml/model"  # where SageMaker unpacks ModelDataUrl's model.tar.gz
MIN_MEMORY_MB = 5 * 1024  # the book's minimum RAM per inference-component copy
VARIANT_NAME = "AllTraffic"
# LMI (vLLM) quantizes in flight with these; TGI's bitsandbytes/eetq have no LMI equivalent.
_LMI_QUANTIZE = frozenset({"awq", "gptq", "fp8"})
_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_ROLE_ARN_PATTERN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-/]+")
_MODEL_DATA_PATTERN = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.+\.tar\.gz")

ContainerKind = Literal["tgi", "lmi"]


class EndpointType(enum.StrEnum):
    """Model-based: the model sits in the endpoint config's variant. Inference-component-based: the endpoint
    only holds instances, and an inference component places the model (with its copies) on them."""

    MODEL_BASED = "model"
    INFERENCE_COMPONENT_BASED = "inference-component"


def dlc_image_uri(region: str, repository: str, tag: str) -> str:
    """`<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>:<tag>` from AWS's Deep Learning Container
    registries (account 763104351884 in most regions); ImproperlyConfigured for a region without one."""
    account = DLC_ACCOUNTS.get(region)
    if account is None:
        raise ImproperlyConfigured(
            f"No known Deep Learning Container registry for AWS_REGION={region!r}: "
            "set SAGEMAKER_INFERENCE_IMAGE_URI to the serving image."
        )
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}/{repository}:{tag}"


@dataclass(frozen=True)
class AutoscalingSpec:
    """Target tracking on invocations per copy (inference components) or per instance (model-based)."""

    min_capacity: int = 1
    max_capacity: int = 2
    target_invocations: float = 4.0  # per copy or instance, per minute
    scale_in_cooldown_s: int = 300
    scale_out_cooldown_s: int = 60


@dataclass(frozen=True)
class EndpointSpec:
    """One LLM endpoint. `hf_token` is sent in the container's environment and never shown nor logged;
    `model_data` (an S3 model.tar.gz, e.g. from the model registry) replaces the Hub id `model_id`."""

    role_arn: str | None
    region: str = "eu-central-1"
    endpoint_name: str = "twin"
    endpoint_config_name: str = "twin"
    endpoint_type: EndpointType = EndpointType.MODEL_BASED
    inference_component_name: str = "twin-llm"
    container: ContainerKind = "tgi"
    image_uri: str | None = None
    tgi_image_tag: str = "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
    lmi_image_tag: str = "0.31.0-lmi13.0.0-cu124"
    model_id: str = "mlabonne/TwinLlama-3.1-8B-DPO"
    model_data: str | None = None
    instance_type: str = "ml.g5.2xlarge"
    instance_count: int = 1
    startup_timeout_s: int = 900
    num_gpus: int = 1
    max_input_length: int = 2048
    max_total_tokens: int = 4096
    max_batch_total_tokens: int = 4096
    max_batch_prefill_tokens: int = 10000
    quantize: str = "bitsandbytes"
    copies: int = 1
    gpus: int = 1
    cpus: int = 2
    memory_mb: int = MIN_MEMORY_MB
    autoscaling: AutoscalingSpec | None = None
    hf_token: str | None = field(default=None, repr=False)
    tags: Mapping[str, str] = field(default_factory=lambda: {PROJECT_TAG["Key"]: PROJECT_TAG["Value"]})

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint_type", EndpointType(self.endpoint_type))
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))
        for name in ("image_uri", "model_data", "hf_token"):
            if getattr(self, name) == "":
                object.__setattr__(self, name, None)

    @property
    def inference_components(self) -> bool:
        return self.endpoint_type is EndpointType.INFERENCE_COMPONENT_BASED

    @property
    def image(self) -> str:
        """The serving image: `image_uri`, else the TGI or LMI Deep Learning Container for the region."""
        if self.image_uri:
            return self.image_uri
        if self.container == "lmi":
            return dlc_image_uri(self.region, LMI_REPOSITORY, self.lmi_image_tag)
        return dlc_image_uri(self.region, TGI_REPOSITORY, self.tgi_image_tag)

    @property
    def model_source(self) -> str:
        return self.model_data or self.model_id

    def aws_tags(self) -> list[dict[str, str]]:
        return [{"Key": key, "Value": value} for key, value in self.tags.items()]

    def environment(self) -> dict[str, str]:
        """The container's environment: TGI's variables (the book's table) or LMI's OPTION_* equivalents."""
        model = MODEL_DIR_IN_CONTAINER if self.model_data else self.model_id
        if self.container == "lmi":
            env = {
                "HF_MODEL_ID": model,
                "OPTION_ROLLING_BATCH": "vllm",
                "TENSOR_PARALLEL_DEGREE": str(self.num_gpus),
                "OPTION_MAX_MODEL_LEN": str(self.max_total_tokens),
                "OPTION_MAX_ROLLING_BATCH_PREFILL_TOKENS": str(self.max_batch_prefill_tokens),
            }
            if self.quantize in _LMI_QUANTIZE:
                env["OPTION_QUANTIZE"] = self.quantize
            if self.hf_token:
                env["HF_TOKEN"] = self.hf_token
            return env
        env = {
            "HF_MODEL_ID": model,
            "SM_NUM_GPUS": str(self.num_gpus),
            "MAX_INPUT_LENGTH": str(self.max_input_length),
            "MAX_TOTAL_TOKENS": str(self.max_total_tokens),
            "MAX_BATCH_TOTAL_TOKENS": str(self.max_batch_total_tokens),
            "MAX_BATCH_PREFILL_TOKENS": str(self.max_batch_prefill_tokens),
        }
        if self.quantize != "none":
            env["HF_MODEL_QUANTIZE"] = self.quantize
        if self.hf_token:
            env["HUGGING_FACE_HUB_TOKEN"] = self.hf_token
        return env

    def problems(self) -> list[str]:
        """Everything that would make AWS refuse the deployment or the container fail to start."""
        problems = [*self._aws_problems(), *self._model_problems(), *self._resource_problems()]
        try:
            self.image  # noqa: B018 - resolving it is the check
        except ImproperlyConfigured as error:
            problems.append(str(error))
        return problems

    def notes(self) -> list[str]:
        """Settings that are accepted but change nothing here, said once in the plan."""
        if self.container == "lmi" and self.quantize not in _LMI_QUANTIZE | {"none"}:
            return [f"HF_MODEL_QUANTIZE={self.quantize} is a TGI option: the LMI container serves unquantized."]
        return []

    def validate(self) -> None:
        """Raise ImproperlyConfigured listing every problem."""
        problems = self.problems()
        if problems:
            raise ImproperlyConfigured(
                "Cannot deploy the SageMaker endpoint:\n" + "\n".join(f"  - {problem}" for problem in problems)
            )

    def _aws_problems(self) -> list[str]:
        problems = []
        if not self.role_arn:
            problems.append(
                "no SageMaker execution role: set AWS_ARN_ROLE (`poe create-sagemaker-execution-role` creates one)."
            )
        elif not _ROLE_ARN_PATTERN.fullmatch(self.role_arn):
            problems.append(
                f"AWS_ARN_ROLE={self.role_arn!r} is not an IAM role ARN (arn:aws:iam::<12 digits>:role/..)."
            )
        names = {
            "SAGEMAKER_ENDPOINT_INFERENCE": self.endpoint_name,
            "SAGEMAKER_ENDPOINT_CONFIG_INFERENCE": self.endpoint_config_name,
        }
        if self.inference_components:
            names["SAGEMAKER_INFERENCE_COMPONENT"] = self.inference_component_name
        problems += [
            f"{setting}={value!r}: SageMaker names hold up to 63 letters, digits and inner hyphens."
            for setting, value in names.items()
            if not _NAME_PATTERN.fullmatch(value)
        ]
        if not self.instance_type.startswith("ml."):
            problems.append(f"GPU_INSTANCE_TYPE={self.instance_type!r} is not a SageMaker instance type (ml.*).")
        return problems

    def _model_problems(self) -> list[str]:
        problems = []
        if self.model_data and not _MODEL_DATA_PATTERN.fullmatch(self.model_data):
            problems.append(f"model data {self.model_data!r} is not an s3://bucket/.../model.tar.gz URI.")
        if not self.model_data and not self.model_id:
            problems.append("no model: set HF_MODEL_ID or give an S3 model.tar.gz.")
        if self.max_input_length >= self.max_total_tokens:
            problems.append(
                f"MAX_INPUT_LENGTH ({self.max_input_length}) must be below MAX_TOTAL_TOKENS ({self.max_total_tokens})."
            )
        if self.container == "tgi":
            if self.max_batch_total_tokens < self.max_total_tokens:
                problems.append(
                    f"MAX_BATCH_TOTAL_TOKENS ({self.max_batch_total_tokens}) must be at least MAX_TOTAL_TOKENS "
                    f"({self.max_total_tokens})."
                )
            if self.max_batch_prefill_tokens < self.max_input_length:
                problems.append(
                    f"MAX_BATCH_PREFILL_TOKENS ({self.max_batch_prefill_tokens}) must be at least MAX_INPUT_LENGTH "
                    f"({self.max_input_length})."
                )
        elif self.max_batch_prefill_tokens < self.max_total_tokens:
            problems.append(
                f"MAX_BATCH_PREFILL_TOKENS ({self.max_batch_prefill_tokens}) must be at least MAX_TOTAL_TOKENS "
                f"({self.max_total_tokens}) for vLLM."
            )
        return problems

    def _resource_problems(self) -> list[str]:
        problems = []
        if self.num_gpus < 1:
            problems.append("SM_NUM_GPUS must be at least 1: the serving containers are GPU images.")
        if self.inference_components and self.gpus and self.num_gpus > self.gpus:
            problems.append(f"SM_NUM_GPUS ({self.num_gpus}) exceeds the GPUs given to each copy (GPUS={self.gpus}).")
        if self.autoscaling and self.autoscaling.max_capacity < self.autoscaling.min_capacity:
            problems.append(
                f"SAGEMAKER_AUTOSCALING_MAX_COPIES ({self.autoscaling.max_capacity}) is below "
                f"SAGEMAKER_AUTOSCALING_MIN_COPIES ({self.autoscaling.min_capacity})."
            )
        return problems
