"""A deployment as an ordered list of boto3 calls and waits, built without calling AWS.

The same plan is printed by `--dry-run` and executed by `SageMakerEndpointDeployer`, so what a dry run
shows is what a deployment does. Names of what each deployment creates carry a UTC timestamp
(`twin-model-20250102-030405`), so re-deploying never collides, and deletion finds them by pattern.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.aws.calls import shown
from llm_engineering.infrastructure.aws.deploy.spec import VARIANT_NAME, EndpointSpec

SAGEMAKER = "sagemaker"
AUTOSCALING = "application-autoscaling"
ROLE_PLACEHOLDER = "<AWS_ARN_ROLE>"
IMAGE_PLACEHOLDER = "<SAGEMAKER_INFERENCE_IMAGE_URI>"
_STAMP_FORMAT = "%Y%m%d-%H%M%S"
_STAMP_PATTERN = r"\d{8}-\d{6}"
_STAMP_LENGTH = len("20250102-030405")
_MAX_NAME = 63


# --- Names ----------------------------------------------------------------------------------------------------
def timestamp(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).strftime(_STAMP_FORMAT)


def _head(base: str, suffix: str) -> str:
    return base[: _MAX_NAME - len(suffix) - _STAMP_LENGTH].rstrip("-")


def endpoint_config_name(base: str, stamp: str) -> str:
    """A new endpoint config's name: `base-<timestamp>`, cut to SageMaker's 63 characters."""
    return f"{_head(base, '-')}-{stamp}"


def endpoint_config_name_pattern(base: str) -> re.Pattern[str]:
    """The configs deployments of `base` create: `base` itself and `base-<timestamp>`."""
    return re.compile(rf"{re.escape(base)}|{re.escape(_head(base, '-'))}-{_STAMP_PATTERN}")


def model_name_prefix(endpoint: str) -> str:
    """What the names of an endpoint's models start with: `twin-model-`."""
    return f"{_head(endpoint, '-model-')}-model-"


def model_name(endpoint: str, stamp: str) -> str:
    return f"{model_name_prefix(endpoint)}{stamp}"


def model_name_pattern(endpoint: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(model_name_prefix(endpoint))}{_STAMP_PATTERN}")


# --- Steps ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AwsCall:
    """One boto3 call: `service` is the client ("sagemaker" or "application-autoscaling")."""

    service: str
    operation: str
    resource: str
    params: Mapping[str, Any]

    def __str__(self) -> str:
        return f"{self.service}.{self.operation} {shown(self.params)}"


@dataclass(frozen=True)
class WaitUntilInService:
    """Poll until an endpoint or inference component is InService (Failed raises)."""

    kind: Literal["endpoint", "inference-component"]
    name: str

    def __str__(self) -> str:
        probe = "describe_endpoint" if self.kind == "endpoint" else "describe_inference_component"
        return f"wait until {self.kind} {self.name} is InService (polling sagemaker.{probe})"


Step = AwsCall | WaitUntilInService


@dataclass(frozen=True)
class ScalingTarget:
    """What Application Auto Scaling scales: an inference component's copies or a variant's instances."""

    resource_id: str
    dimension: str
    metric: str
    policy_name: str


def component_scaling_target(name: str) -> ScalingTarget:
    return ScalingTarget(
        f"inference-component/{name}",
        "sagemaker:inference-component:DesiredCopyCount",
        "SageMakerInferenceComponentInvocationsPerCopy",
        f"{name}-invocations-per-copy",
    )


def variant_scaling_target(endpoint: str, variant: str = VARIANT_NAME) -> ScalingTarget:
    return ScalingTarget(
        f"endpoint/{endpoint}/variant/{variant}",
        "sagemaker:variant:DesiredInstanceCount",
        "SageMakerVariantInvocationsPerInstance",
        f"{endpoint}-invocations-per-instance",
    )


def scaling_target(spec: EndpointSpec) -> ScalingTarget:
    """The inference component's copies, or the model-based endpoint's instances."""
    if spec.inference_components:
        return component_scaling_target(spec.inference_component_name)
    return variant_scaling_target(spec.endpoint_name)


@dataclass(frozen=True)
class DeploymentPlan:
    """What `deploy` does, in order. `action` is "create" (new endpoint) or "update" (it exists)."""

    spec: EndpointSpec
    action: Literal["create", "update"]
    model_name: str
    endpoint_config_name: str | None
    steps: tuple[Step, ...]

    def summary(self) -> str:
        spec = self.spec
        kind = "inference-component-based" if spec.inference_components else "model-based"
        return (
            f"{self.action} the {kind} SageMaker endpoint {spec.endpoint_name} in {spec.region}: "
            f"{spec.container.upper()} container serving {spec.model_source} on "
            f"{spec.instance_count} x {spec.instance_type}"
        )

    def lines(self) -> list[str]:
        return [f"{number:2d}. {step}" for number, step in enumerate(self.steps, start=1)]


# --- Requests -------------------------------------------------------------------------------------------------
def _image(spec: EndpointSpec) -> str:
    try:
        return spec.image
    except ImproperlyConfigured:
        return IMAGE_PLACEHOLDER  # validate() refuses it before a real deployment


def create_model_request(spec: EndpointSpec, name: str) -> dict[str, Any]:
    container: dict[str, Any] = {"Image": _image(spec), "Environment": spec.environment()}
    if spec.model_data:
        container["ModelDataUrl"] = spec.model_data
    return {
        "ModelName": name,
        "ExecutionRoleArn": spec.role_arn or ROLE_PLACEHOLDER,
        "PrimaryContainer": container,
        "Tags": spec.aws_tags(),
    }


def create_endpoint_config_request(spec: EndpointSpec, name: str, model: str | None) -> dict[str, Any]:
    """With `model`, a model-based variant; without, the instances an inference component will use."""
    variant: dict[str, Any] = {
        "VariantName": VARIANT_NAME,
        "InstanceType": spec.instance_type,
        "InitialInstanceCount": spec.instance_count,
    }
    request: dict[str, Any] = {"EndpointConfigName": name, "ProductionVariants": [variant], "Tags": spec.aws_tags()}
    if model is not None:
        variant |= {
            "ModelName": model,
            "InitialVariantWeight": 1.0,
            "ModelDataDownloadTimeoutInSeconds": spec.startup_timeout_s,
            "ContainerStartupHealthCheckTimeoutInSeconds": spec.startup_timeout_s,
        }
        return request
    if spec.autoscaling:
        # More copies than the instances hold: SageMaker adds instances (one copy per instance at worst).
        variant["ManagedInstanceScaling"] = {
            "Status": "ENABLED",
            "MinInstanceCount": spec.instance_count,
            "MaxInstanceCount": max(spec.instance_count, spec.autoscaling.max_capacity),
        }
    request["ExecutionRoleArn"] = spec.role_arn or ROLE_PLACEHOLDER
    return request


def inference_component_specification(spec: EndpointSpec, model: str) -> dict[str, Any]:
    resources: dict[str, Any] = {"NumberOfCpuCoresRequired": float(spec.cpus), "MinMemoryRequiredInMb": spec.memory_mb}
    if spec.gpus:
        resources["NumberOfAcceleratorDevicesRequired"] = float(spec.gpus)
    return {
        "ModelName": model,
        "StartupParameters": {
            "ModelDataDownloadTimeoutInSeconds": spec.startup_timeout_s,
            "ContainerStartupHealthCheckTimeoutInSeconds": spec.startup_timeout_s,
        },
        "ComputeResourceRequirements": resources,
    }


def _call(operation: str, resource: str, params: dict[str, Any], service: str = SAGEMAKER) -> AwsCall:
    return AwsCall(service, operation, resource, params)


def _create_model(spec: EndpointSpec, model: str) -> AwsCall:
    return _call("create_model", model, create_model_request(spec, model))


def _create_config(spec: EndpointSpec, config: str, model: str | None) -> AwsCall:
    return _call("create_endpoint_config", config, create_endpoint_config_request(spec, config, model))


def _inference_component(spec: EndpointSpec, model: str, *, exists: bool) -> AwsCall:
    name = spec.inference_component_name
    params: dict[str, Any] = {
        "InferenceComponentName": name,
        "Specification": inference_component_specification(spec, model),
        "RuntimeConfig": {"CopyCount": spec.copies},
    }
    if exists:
        return _call("update_inference_component", name, params)
    params = {"EndpointName": spec.endpoint_name, "VariantName": VARIANT_NAME, **params, "Tags": spec.aws_tags()}
    return _call("create_inference_component", name, params)


def autoscaling_steps(spec: EndpointSpec) -> list[AwsCall]:
    """Register the scalable target and its target-tracking policy (both calls update what exists)."""
    if spec.autoscaling is None:
        return []
    scaling, target = spec.autoscaling, scaling_target(spec)
    keys = {"ServiceNamespace": SAGEMAKER, "ResourceId": target.resource_id, "ScalableDimension": target.dimension}
    register = keys | {
        "MinCapacity": scaling.min_capacity,
        "MaxCapacity": scaling.max_capacity,
        "Tags": dict(spec.tags),
    }
    policy = {
        "PolicyName": target.policy_name,
        **keys,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": scaling.target_invocations,
            "PredefinedMetricSpecification": {"PredefinedMetricType": target.metric},
            "ScaleInCooldown": scaling.scale_in_cooldown_s,
            "ScaleOutCooldown": scaling.scale_out_cooldown_s,
        },
    }
    return [
        _call("register_scalable_target", target.resource_id, register, AUTOSCALING),
        _call("put_scaling_policy", target.policy_name, policy, AUTOSCALING),
    ]


def deregister_step(target: ScalingTarget) -> AwsCall:
    params = {"ServiceNamespace": SAGEMAKER, "ResourceId": target.resource_id, "ScalableDimension": target.dimension}
    return _call("deregister_scalable_target", target.resource_id, params, AUTOSCALING)


def _finish(spec: EndpointSpec, steps: list[Step], *, wait: bool) -> tuple[Step, ...]:
    """Wait for what serves the model when asked to, or when autoscaling needs it in service, then scale."""
    if wait or spec.autoscaling:
        if spec.inference_components:
            steps.append(WaitUntilInService("inference-component", spec.inference_component_name))
        else:
            steps.append(WaitUntilInService("endpoint", spec.endpoint_name))
    return (*steps, *autoscaling_steps(spec))


# --- Plans ----------------------------------------------------------------------------------------------------
def new_endpoint_plan(spec: EndpointSpec, *, stamp: str, config_name: str, wait: bool = False) -> DeploymentPlan:
    """Create everything. An inference component needs its endpoint in service, so that wait is always there."""
    model = model_name(spec.endpoint_name, stamp)
    endpoint = _call(
        "create_endpoint",
        spec.endpoint_name,
        {"EndpointName": spec.endpoint_name, "EndpointConfigName": config_name, "Tags": spec.aws_tags()},
    )
    if spec.inference_components:
        steps: list[Step] = [
            _create_config(spec, config_name, None),
            endpoint,
            _create_model(spec, model),
            WaitUntilInService("endpoint", spec.endpoint_name),
            _inference_component(spec, model, exists=False),
        ]
    else:
        steps = [_create_model(spec, model), _create_config(spec, config_name, model), endpoint]
    return DeploymentPlan(spec, "create", model, config_name, _finish(spec, steps, wait=wait))


def endpoint_update_plan(
    spec: EndpointSpec,
    *,
    stamp: str,
    wait: bool = False,
    inference_component_exists: bool = False,
    deregister_first: ScalingTarget | None = None,
) -> DeploymentPlan:
    """A new model behind the existing endpoint: a new config + update_endpoint (model-based), or the
    inference component updated (created when missing); the endpoint's instances are kept."""
    model = model_name(spec.endpoint_name, stamp)
    steps: list[Step] = [deregister_step(deregister_first)] if deregister_first else []
    if spec.inference_components:
        steps += [_create_model(spec, model), _inference_component(spec, model, exists=inference_component_exists)]
        return DeploymentPlan(spec, "update", model, None, _finish(spec, steps, wait=wait))
    config = endpoint_config_name(spec.endpoint_config_name, stamp)
    update = {"EndpointName": spec.endpoint_name, "EndpointConfigName": config}
    steps += [
        _create_model(spec, model),
        _create_config(spec, config, model),
        _call("update_endpoint", spec.endpoint_name, update),
    ]
    return DeploymentPlan(spec, "update", model, config, _finish(spec, steps, wait=wait))
