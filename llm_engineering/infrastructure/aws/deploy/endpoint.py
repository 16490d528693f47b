"""Deploys the LLM to a SageMaker endpoint over plain boto3: create it, or update it when it exists.

The book's `DeploymentService` used the v2 SDK's `HuggingFaceModel.deploy`; SDK v3 removed that class and
the `sagemaker` package is an optional extra. The boto3 calls it made are few and stable, so they are made
here directly: create_model, create_endpoint_config, create_endpoint (or update_endpoint), plus
create_inference_component for inference-component endpoints and Application Auto Scaling when asked.

Clients are injected (`bootstrap.builders.aws.build_endpoint_deployer` builds them), so tests use botocore's Stubber.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.aws.calls import call_aws
from llm_engineering.infrastructure.aws.deploy.cleanup import EndpointCleanup
from llm_engineering.infrastructure.aws.deploy.plan import (
    SAGEMAKER,
    AwsCall,
    DeploymentPlan,
    ScalingTarget,
    WaitUntilInService,
    endpoint_config_name,
    endpoint_update_plan,
    new_endpoint_plan,
    timestamp,
    variant_scaling_target,
)
from llm_engineering.infrastructure.aws.deploy.spec import VARIANT_NAME
from llm_engineering.infrastructure.errors import AwsResourceError

if TYPE_CHECKING:
    from llm_engineering.infrastructure.aws.deploy.spec import EndpointSpec

Progress = Callable[[str], None]
_BUSY_STATUSES = frozenset(
    {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "UpdateRollbackFailed"}
)


def _log(message: str) -> None:
    logger.info(message)


class SageMakerEndpointDeployer:
    """Plans, runs and undoes endpoint deployments.

    `sagemaker_client` and `autoscaling_client` are boto3 clients (`sagemaker`, `application-autoscaling`).
    `sleep`, `clock` and `now` are injectable so tests poll without waiting; `poll_s` and `timeout_s`
    bound every wait (a deployment takes 15 to 30 minutes, mostly the model download and load).
    """

    def __init__(
        self,
        sagemaker_client: Any,
        autoscaling_client: Any,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] | None = None,
        poll_s: float = 30.0,
        timeout_s: float = 3600.0,
    ):
        self.sagemaker = sagemaker_client
        self.autoscaling = autoscaling_client
        self._sleep = sleep
        self._clock = clock
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self.poll_s = poll_s
        self.timeout_s = timeout_s

    # --- Deploy ---------------------------------------------------------------------------------------------
    def plan(self, spec: EndpointSpec, *, wait: bool = False) -> DeploymentPlan:
        """The plan for a new endpoint, made without any AWS call (what `--dry-run` prints)."""
        return new_endpoint_plan(spec, stamp=timestamp(self._now()), config_name=spec.endpoint_config_name, wait=wait)

    def deploy(self, spec: EndpointSpec, *, wait: bool = False, progress: Progress = _log) -> DeploymentPlan:
        """Create the endpoint, or put the new model behind it when it exists; return the plan it ran.

        Raises ImproperlyConfigured for a bad spec or an endpoint of the other type, AwsResourceError when
        AWS refuses a call, the endpoint is busy or failed, or a wait ends in Failed or times out.
        """
        spec.validate()
        stamp = timestamp(self._now())
        name = spec.endpoint_name
        endpoint = call_aws(self.sagemaker, "describe_endpoint", name, missing_ok=True, EndpointName=name)
        if endpoint is None:
            config = spec.endpoint_config_name
            if self._describe_config(config) is not None:
                config = endpoint_config_name(config, stamp)
                progress(
                    f"Endpoint config {spec.endpoint_config_name} is left from an earlier deployment: using {config}"
                )
            plan = new_endpoint_plan(spec, stamp=stamp, config_name=config, wait=wait)
        else:
            progress(f"Endpoint {name} exists ({endpoint.get('EndpointStatus')}): deploying the model as an update")
            plan = self._update_plan(spec, endpoint, stamp, wait)
        for note in spec.notes():
            progress(note)
        progress(f"Plan: {plan.summary()}")
        self.execute(plan, progress)
        return plan

    def execute(self, plan: DeploymentPlan, progress: Progress = _log) -> None:
        """Run the plan's steps in order; the first failure stops it (what was created stays, see delete)."""
        for step in plan.steps:
            progress(f"-> {step}")
            if isinstance(step, WaitUntilInService):
                self.wait_until_in_service(step)
            else:
                self._run(step)

    def _run(self, step: AwsCall) -> Any:
        client = self.sagemaker if step.service == SAGEMAKER else self.autoscaling
        return call_aws(client, step.operation, step.resource, **step.params)

    def _describe_config(self, name: str) -> Mapping[str, Any] | None:
        return call_aws(self.sagemaker, "describe_endpoint_config", name, missing_ok=True, EndpointConfigName=name)

    def _update_plan(self, spec: EndpointSpec, endpoint: Mapping[str, Any], stamp: str, wait: bool) -> DeploymentPlan:
        name, status = spec.endpoint_name, endpoint.get("EndpointStatus")
        if status == "Failed":
            raise AwsResourceError(
                f"Endpoint {name} is Failed ({endpoint.get('FailureReason', 'no reason given')}): delete it "
                "(`poe delete-inference-endpoint`), then deploy again.",
                operation="describe_endpoint",
                resource=name,
            )
        if status in _BUSY_STATUSES:
            raise AwsResourceError(
                f"Endpoint {name} is {status}: deploy again once it is InService (or delete it).",
                operation="describe_endpoint",
                resource=name,
            )
        current = endpoint.get("EndpointConfigName")
        config = (self._describe_config(current) if current else None) or {}
        variants = config.get("ProductionVariants") or []
        if variants:
            model_based = any(variant.get("ModelName") for variant in variants)
            if model_based == spec.inference_components:
                kind = "model-based" if model_based else "inference-component-based"
                raise ImproperlyConfigured(
                    f"Endpoint {name} is {kind}; SAGEMAKER_ENDPOINT_TYPE={spec.endpoint_type.value} cannot update it. "
                    "Delete it first (`poe delete-inference-endpoint`) or choose another SAGEMAKER_ENDPOINT_INFERENCE."
                )
        if spec.inference_components:
            component = spec.inference_component_name
            found = call_aws(
                self.sagemaker,
                "describe_inference_component",
                component,
                missing_ok=True,
                InferenceComponentName=component,
            )
            if found is not None and found.get("EndpointName") != name:
                raise ImproperlyConfigured(
                    f"Inference component {component} belongs to endpoint {found.get('EndpointName')}: "
                    "choose another SAGEMAKER_INFERENCE_COMPONENT."
                )
            return endpoint_update_plan(spec, stamp=stamp, wait=wait, inference_component_exists=found is not None)
        deregister = None
        if variants and variants[0].get("InstanceType") != spec.instance_type:
            # Application Auto Scaling refuses an update that changes a scaled variant's instance type.
            target = variant_scaling_target(spec.endpoint_name, variants[0].get("VariantName", VARIANT_NAME))
            if self._scalable_target_exists(target):
                deregister = target
        return endpoint_update_plan(spec, stamp=stamp, wait=wait, deregister_first=deregister)

    def _scalable_target_exists(self, target: ScalingTarget) -> bool:
        response = call_aws(
            self.autoscaling,
            "describe_scalable_targets",
            target.resource_id,
            ServiceNamespace=SAGEMAKER,
            ResourceIds=[target.resource_id],
            ScalableDimension=target.dimension,
        )
        return bool(response.get("ScalableTargets"))

    # --- Waiting --------------------------------------------------------------------------------------------
    def wait_until_in_service(self, step: WaitUntilInService) -> None:
        if step.kind == "endpoint":
            self._wait_for_endpoint(step.name)
        else:
            self._wait_for_inference_component(step.name)

    def _wait_for_endpoint(self, name: str) -> None:
        """boto3's `endpoint_in_service` waiter; Failed or a timeout raise AwsResourceError."""
        from botocore.exceptions import WaiterError

        attempts = max(1, math.ceil(self.timeout_s / max(self.poll_s, 1.0)))
        waiter = self.sagemaker.get_waiter("endpoint_in_service")
        try:
            waiter.wait(EndpointName=name, WaiterConfig={"Delay": self.poll_s, "MaxAttempts": attempts})
        except WaiterError as error:
            last = error.last_response or {}
            status = last.get("EndpointStatus") or (last.get("Error") or {}).get("Code", "unknown")
            reason = last.get("FailureReason") or error.kwargs.get("reason", "")
            raise AwsResourceError(
                f"Endpoint {name} did not come into service ({status}: {reason}). The container logs are in "
                f"CloudWatch (/aws/sagemaker/Endpoints/{name}).",
                operation="describe_endpoint",
                resource=name,
            ) from error

    def _wait_for_inference_component(self, name: str) -> None:
        started = self._clock()
        while True:
            found = call_aws(self.sagemaker, "describe_inference_component", name, InferenceComponentName=name)
            status = found.get("InferenceComponentStatus")
            if status == "InService":
                return
            if status == "Failed":
                raise AwsResourceError(
                    f"Inference component {name} failed: {found.get('FailureReason', 'no reason given')}. The "
                    f"container logs are in CloudWatch (/aws/sagemaker/InferenceComponents/{name}).",
                    operation="describe_inference_component",
                    resource=name,
                )
            if self._clock() - started >= self.timeout_s:
                raise AwsResourceError(
                    f"Inference component {name} is still {status} after {self.timeout_s:.0f} s; it keeps going.",
                    operation="describe_inference_component",
                    resource=name,
                )
            self._sleep(self.poll_s)

    # --- Delete ---------------------------------------------------------------------------------------------
    def delete(self, spec: EndpointSpec, *, wait: bool = False, progress: Progress = _log) -> list[str]:
        """Delete what deployments of `spec` created; returns what it did, one line per resource."""
        cleanup = EndpointCleanup(
            self.sagemaker,
            self.autoscaling,
            sleep=self._sleep,
            clock=self._clock,
            poll_s=self.poll_s,
            timeout_s=self.timeout_s,
            progress=progress,
        )
        return cleanup.run(spec, wait=wait)
