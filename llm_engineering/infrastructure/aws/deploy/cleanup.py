"""Deletes what endpoint deployments created, in the order AWS allows, saying what it did at each step.

Order: autoscaling (policies, then the scalable target), inference components (waited until gone, an
endpoint with components cannot be deleted), the endpoint, then every endpoint config and model the
deployments named (`twin`, `twin-<timestamp>`, `twin-model-<timestamp>`) or the endpoint used. Anything
already gone is said and skipped, so running it twice, or with nothing deployed, succeeds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from llm_engineering.infrastructure.aws.calls import all_pages, call_aws
from llm_engineering.infrastructure.aws.deploy.plan import (
    SAGEMAKER,
    ScalingTarget,
    component_scaling_target,
    endpoint_config_name_pattern,
    model_name_pattern,
    model_name_prefix,
    variant_scaling_target,
)
from llm_engineering.infrastructure.aws.deploy.spec import VARIANT_NAME
from llm_engineering.infrastructure.errors import AwsResourceError

if TYPE_CHECKING:
    from llm_engineering.infrastructure.aws.deploy.spec import EndpointSpec

_LISTS = {"list_endpoint_configs": ("EndpointConfigs", "EndpointConfigName"), "list_models": ("Models", "ModelName")}
_DELETE_KEYS = {"delete_endpoint_config": "EndpointConfigName", "delete_model": "ModelName"}


class EndpointCleanup:
    """One deletion run over injected boto3 `sagemaker` and `application-autoscaling` clients."""

    def __init__(
        self,
        sagemaker_client: Any,
        autoscaling_client: Any,
        *,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        poll_s: float,
        timeout_s: float,
        progress: Callable[[str], None],
    ):
        self.sagemaker = sagemaker_client
        self.autoscaling = autoscaling_client
        self._sleep = sleep
        self._clock = clock
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self._progress = progress
        self.messages: list[str] = []

    def say(self, message: str) -> None:
        self.messages.append(message)
        self._progress(message)

    def run(self, spec: EndpointSpec, *, wait: bool = False) -> list[str]:
        name = spec.endpoint_name
        configs: set[str] = set()
        models: set[str] = set()
        endpoint = call_aws(self.sagemaker, "describe_endpoint", name, missing_ok=True, EndpointName=name)
        if endpoint is None:
            self.say(f"Endpoint {name} does not exist.")
            # Scalable targets can outlive an endpoint deleted by hand.
            self.remove_autoscaling(variant_scaling_target(name))
            self.remove_autoscaling(component_scaling_target(spec.inference_component_name))
        else:
            current = endpoint.get("EndpointConfigName")
            models |= self.delete_inference_components(spec)
            for variant in endpoint.get("ProductionVariants") or [{"VariantName": VARIANT_NAME}]:
                self.remove_autoscaling(variant_scaling_target(name, variant["VariantName"]))
            if current:
                configs.add(current)
                models |= self.models_of_config(current)
            if call_aws(self.sagemaker, "delete_endpoint", name, missing_ok=True, EndpointName=name) is None:
                self.say(f"Endpoint {name} was already gone.")
            else:
                self.say(f"Deleted endpoint {name} (its instances stop billing once it is gone).")
            if wait:
                self.wait_for_endpoint_deletion(name)
        base = spec.endpoint_config_name
        configs |= self.listed("list_endpoint_configs", base, endpoint_config_name_pattern(base))
        self.delete_each(
            "endpoint config", "delete_endpoint_config", configs, none=f"No endpoint configs {base}[-<time>]."
        )
        prefix = model_name_prefix(name)
        models |= self.listed("list_models", prefix, model_name_pattern(name))
        self.delete_each("model", "delete_model", models, none=f"No models {prefix}<time>.")
        return self.messages

    # --- Steps ----------------------------------------------------------------------------------------------
    def remove_autoscaling(self, target: ScalingTarget) -> None:
        keys = {"ServiceNamespace": SAGEMAKER, "ResourceId": target.resource_id, "ScalableDimension": target.dimension}
        found = call_aws(
            self.autoscaling,
            "describe_scalable_targets",
            target.resource_id,
            ServiceNamespace=SAGEMAKER,
            ResourceIds=[target.resource_id],
            ScalableDimension=target.dimension,
        )
        if not found.get("ScalableTargets"):
            self.say(f"No autoscaling registered for {target.resource_id}.")
            return
        policies = call_aws(self.autoscaling, "describe_scaling_policies", target.resource_id, **keys)
        for policy in policies.get("ScalingPolicies", []):
            policy_name = policy["PolicyName"]
            call_aws(
                self.autoscaling, "delete_scaling_policy", policy_name, missing_ok=True, PolicyName=policy_name, **keys
            )
            self.say(f"Deleted scaling policy {policy_name}.")
        call_aws(self.autoscaling, "deregister_scalable_target", target.resource_id, missing_ok=True, **keys)
        self.say(f"Deregistered scalable target {target.resource_id}.")

    def delete_inference_components(self, spec: EndpointSpec) -> set[str]:
        """Delete the endpoint's inference components (autoscaling first); return their models' names."""
        pages = all_pages(
            self.sagemaker, "list_inference_components", spec.endpoint_name, EndpointNameEquals=spec.endpoint_name
        )
        names = sorted(item["InferenceComponentName"] for page in pages for item in page["InferenceComponents"])
        models: set[str] = set()
        for name in names:
            self.remove_autoscaling(component_scaling_target(name))
            found = call_aws(
                self.sagemaker, "describe_inference_component", name, missing_ok=True, InferenceComponentName=name
            )
            model = ((found or {}).get("Specification") or {}).get("ModelName")
            if model:
                models.add(model)
            call_aws(self.sagemaker, "delete_inference_component", name, missing_ok=True, InferenceComponentName=name)
            self.say(f"Deleted inference component {name}.")
        for name in names:
            self.wait_for_component_deletion(name)
        return models

    def models_of_config(self, config: str) -> set[str]:
        found = call_aws(self.sagemaker, "describe_endpoint_config", config, missing_ok=True, EndpointConfigName=config)
        variants = (found or {}).get("ProductionVariants") or []
        return {variant["ModelName"] for variant in variants if variant.get("ModelName")}

    def listed(self, operation: str, contains: str, pattern: re.Pattern[str]) -> set[str]:
        """Names from list_endpoint_configs / list_models that deployments of this endpoint create."""
        key, field = _LISTS[operation]
        pages = all_pages(self.sagemaker, operation, contains, NameContains=contains)
        return {item[field] for page in pages for item in page[key] if pattern.fullmatch(item[field])}

    def delete_each(self, kind: str, operation: str, names: Iterable[str], *, none: str) -> None:
        chosen = sorted(names)
        if not chosen:
            self.say(none)
        key = _DELETE_KEYS[operation]
        for name in chosen:
            gone = call_aws(self.sagemaker, operation, name, missing_ok=True, **{key: name})
            self.say(f"Deleted {kind} {name}." if gone is not None else f"{kind.capitalize()} {name} was already gone.")

    # --- Waiting --------------------------------------------------------------------------------------------
    def wait_for_component_deletion(self, name: str) -> None:
        started = self._clock()
        while call_aws(
            self.sagemaker, "describe_inference_component", name, missing_ok=True, InferenceComponentName=name
        ):
            if self._clock() - started >= self.timeout_s:
                raise AwsResourceError(
                    f"Inference component {name} is still being deleted after {self.timeout_s:.0f} s: run the "
                    "deletion again later.",
                    operation="describe_inference_component",
                    resource=name,
                )
            self._sleep(self.poll_s)

    def wait_for_endpoint_deletion(self, name: str) -> None:
        from botocore.exceptions import WaiterError

        attempts = max(1, math.ceil(self.timeout_s / max(self.poll_s, 1.0)))
        try:
            self.sagemaker.get_waiter("endpoint_deleted").wait(
                EndpointName=name, WaiterConfig={"Delay": self.poll_s, "MaxAttempts": attempts}
            )
        except WaiterError as error:
            raise AwsResourceError(
                f"Endpoint {name} is not deleted yet: {error}", operation="describe_endpoint", resource=name
            ) from error
        self.say(f"Endpoint {name} is gone.")
