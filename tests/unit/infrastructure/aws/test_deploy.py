"""The SageMaker endpoint deployer against botocore-stubbed clients: every AWS call and its parameters are
expected in order, and no request ever leaves the process."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.stub import Stubber

from llm_engineering.bootstrap.builders.aws import build_endpoint_deployer, endpoint_spec
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.aws.calls import masked
from llm_engineering.infrastructure.aws.deploy import (
    AutoscalingSpec,
    EndpointSpec,
    EndpointType,
    SageMakerEndpointDeployer,
)
from llm_engineering.infrastructure.aws.deploy.plan import endpoint_config_name, model_name
from llm_engineering.infrastructure.errors import AwsResourceError
from llm_engineering.settings import load_settings

ROLE = "arn:aws:iam::123456789012:role/twin-sagemaker-execution"
SECRET = "hf_secret_token_value"
NOW = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
MODEL = "twin-model-20250102-030405"
TGI_IMAGE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
    "huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
)
TAGS = [{"Key": "project", "Value": "llm-twin"}]
ARN = "arn:aws:sagemaker:us-east-1:123456789012"
WHEN = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
TGI_ENV = {
    "HF_MODEL_ID": "mlabonne/TwinLlama-3.1-8B-DPO",
    "SM_NUM_GPUS": "1",
    "MAX_INPUT_LENGTH": "2048",
    "MAX_TOTAL_TOKENS": "4096",
    "MAX_BATCH_TOTAL_TOKENS": "4096",
    "MAX_BATCH_PREFILL_TOKENS": "10000",
    "HF_MODEL_QUANTIZE": "bitsandbytes",
    "HUGGING_FACE_HUB_TOKEN": SECRET,
}
IC_TARGET = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": "inference-component/twin-llm",
    "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
}
VARIANT_TARGET = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": "endpoint/twin/variant/AllTraffic",
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch, tmp_path):
    """Fake keys in the environment and no shared config, so boto3 never looks further (nor at IMDS)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def stubs():
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    autoscaling = boto3.client("application-autoscaling", region_name="us-east-1")
    with Stubber(sagemaker) as sagemaker_stub, Stubber(autoscaling) as autoscaling_stub:
        deployer = SageMakerEndpointDeployer(
            sagemaker, autoscaling, sleep=lambda _: None, now=lambda: NOW, poll_s=0, timeout_s=60
        )
        yield deployer, sagemaker_stub, autoscaling_stub
        sagemaker_stub.assert_no_pending_responses()
        autoscaling_stub.assert_no_pending_responses()


@pytest.fixture
def said():
    return []


def make_spec(**overrides) -> EndpointSpec:
    return EndpointSpec(**({"role_arn": ROLE, "region": "us-east-1", "hf_token": SECRET} | overrides))


# --- Responses and expected requests ------------------------------------------------------------------------
def missing(stub: Stubber, operation: str, params: dict, what: str) -> None:
    stub.add_client_error(operation, "ValidationException", f"Could not find {what}.", 400, expected_params=params)


def endpoint(status: str = "InService", config: str = "twin", **extra) -> dict:
    return {
        "EndpointName": "twin",
        "EndpointArn": f"{ARN}:endpoint/twin",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": WHEN,
        "LastModifiedTime": WHEN,
        **extra,
    }


def endpoint_config(name: str = "twin", **variant) -> dict:
    return {
        "EndpointConfigName": name,
        "EndpointConfigArn": f"{ARN}:endpoint-config/{name}",
        "ProductionVariants": [{"VariantName": "AllTraffic", **variant}],
        "CreationTime": WHEN,
    }


def component(status: str, model: str = MODEL) -> dict:
    return {
        "InferenceComponentName": "twin-llm",
        "InferenceComponentArn": f"{ARN}:inference-component/twin-llm",
        "EndpointName": "twin",
        "EndpointArn": f"{ARN}:endpoint/twin",
        "InferenceComponentStatus": status,
        "Specification": {"ModelName": model},
        "CreationTime": WHEN,
        "LastModifiedTime": WHEN,
    }


def create_model_request(name: str = MODEL, env: dict | None = None) -> dict:
    return {
        "ModelName": name,
        "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {"Image": TGI_IMAGE, "Environment": env or TGI_ENV},
        "Tags": TAGS,
    }


def model_variant(model: str = MODEL, instance_type: str = "ml.g5.2xlarge") -> dict:
    return {
        "VariantName": "AllTraffic",
        "InstanceType": instance_type,
        "InitialInstanceCount": 1,
        "ModelName": model,
        "InitialVariantWeight": 1.0,
        "ModelDataDownloadTimeoutInSeconds": 900,
        "ContainerStartupHealthCheckTimeoutInSeconds": 900,
    }


def component_specification(model: str = MODEL) -> dict:
    return {
        "ModelName": model,
        "StartupParameters": {
            "ModelDataDownloadTimeoutInSeconds": 900,
            "ContainerStartupHealthCheckTimeoutInSeconds": 900,
        },
        "ComputeResourceRequirements": {
            "NumberOfCpuCoresRequired": 2.0,
            "MinMemoryRequiredInMb": 5120,
            "NumberOfAcceleratorDevicesRequired": 1.0,
        },
    }


def expect_model_based_creation(stub: Stubber, config: str = "twin") -> None:
    stub.add_response("create_model", {"ModelArn": f"{ARN}:model/{MODEL}"}, create_model_request())
    stub.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": f"{ARN}:endpoint-config/{config}"},
        {"EndpointConfigName": config, "ProductionVariants": [model_variant()], "Tags": TAGS},
    )
    stub.add_response(
        "create_endpoint",
        {"EndpointArn": f"{ARN}:endpoint/twin"},
        {"EndpointName": "twin", "EndpointConfigName": config, "Tags": TAGS},
    )


def expect_autoscaling(stub: Stubber, target: dict, policy: str, metric: str, max_capacity: int = 3) -> None:
    stub.add_response(
        "register_scalable_target",
        {},
        target | {"MinCapacity": 1, "MaxCapacity": max_capacity, "Tags": {"project": "llm-twin"}},
    )
    stub.add_response(
        "put_scaling_policy",
        {"PolicyARN": f"arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:{policy}"},
        {
            "PolicyName": policy,
            **target,
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 5.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": metric},
                "ScaleInCooldown": 600,
                "ScaleOutCooldown": 120,
            },
        },
    )


SCALING = AutoscalingSpec(
    min_capacity=1, max_capacity=3, target_invocations=5.0, scale_in_cooldown_s=600, scale_out_cooldown_s=120
)


# --- The spec -------------------------------------------------------------------------------------------------
def test_tgi_environment_is_the_books_table_with_the_token_only_when_set():
    assert make_spec().environment() == TGI_ENV
    plain = make_spec(hf_token=None, quantize="none").environment()
    assert "HUGGING_FACE_HUB_TOKEN" not in plain and "HF_MODEL_QUANTIZE" not in plain
    from_s3 = make_spec(model_data="s3://twin-models/twin/v3/model.tar.gz")
    assert from_s3.environment()["HF_MODEL_ID"] == "/opt/ml/model"
    assert from_s3.model_source == "s3://twin-models/twin/v3/model.tar.gz"
    assert SECRET not in repr(make_spec())


def test_lmi_environment_uses_its_own_options_and_says_what_it_ignores():
    spec = make_spec(container="lmi", quantize="bitsandbytes")
    assert spec.environment() == {
        "HF_MODEL_ID": "mlabonne/TwinLlama-3.1-8B-DPO",
        "OPTION_ROLLING_BATCH": "vllm",
        "TENSOR_PARALLEL_DEGREE": "1",
        "OPTION_MAX_MODEL_LEN": "4096",
        "OPTION_MAX_ROLLING_BATCH_PREFILL_TOKENS": "10000",
        "HF_TOKEN": SECRET,
    }
    assert "serves unquantized" in spec.notes()[0]
    assert make_spec(container="lmi", quantize="awq").environment()["OPTION_QUANTIZE"] == "awq"
    assert spec.image == "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124"


def test_images_come_from_the_regions_dlc_registry_unless_given():
    assert make_spec().image == TGI_IMAGE
    assert make_spec(region="cn-north-1").image.startswith("727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/")
    assert make_spec(image_uri="111122223333.dkr.ecr.us-east-1.amazonaws.com/tgi:1").image.startswith("1111")
    assert any("SAGEMAKER_INFERENCE_IMAGE_URI" in problem for problem in make_spec(region="xx-nowhere-1").problems())


def test_every_problem_is_reported_before_any_call(stubs):
    deployer, *_ = stubs  # stubbed clients with no responses: any call would fail the test
    spec = make_spec(
        role_arn="twin-role",
        endpoint_name="twin_endpoint",
        max_input_length=4096,
        max_batch_prefill_tokens=100,
        model_data="twin-models/model.tar.gz",
        endpoint_type=EndpointType.INFERENCE_COMPONENT_BASED,
        num_gpus=2,
        autoscaling=AutoscalingSpec(min_capacity=3, max_capacity=2),
    )
    with pytest.raises(ImproperlyConfigured) as caught:
        deployer.deploy(spec)
    message = str(caught.value)
    for expected in (
        "is not an IAM role ARN",
        "SAGEMAKER_ENDPOINT_INFERENCE='twin_endpoint'",
        "MAX_INPUT_LENGTH (4096) must be below MAX_TOTAL_TOKENS",
        "MAX_BATCH_PREFILL_TOKENS (100) must be at least MAX_INPUT_LENGTH",
        "is not an s3://bucket/.../model.tar.gz URI",
        "SM_NUM_GPUS (2) exceeds the GPUs given to each copy",
        "SAGEMAKER_AUTOSCALING_MAX_COPIES (2) is below",
    ):
        assert expected in message
    with pytest.raises(ImproperlyConfigured, match="set AWS_ARN_ROLE"):
        deployer.deploy(make_spec(role_arn=None))


def test_names_are_unique_per_deployment_and_fit_sagemakers_limit():
    assert model_name("twin", "20250102-030405") == MODEL
    assert endpoint_config_name("twin", "20250102-030405") == "twin-20250102-030405"
    long = endpoint_config_name("a-very-long-endpoint-config-name-" * 3, "20250102-030405")
    assert len(long) <= 63 and long.endswith("-20250102-030405")


def test_the_spec_comes_from_settings_and_flags_win():
    settings = load_settings(
        AWS_REGION="us-east-1",
        AWS_ARN_ROLE=ROLE,
        HUGGINGFACE_ACCESS_TOKEN=SECRET,
        SAGEMAKER_ENDPOINT_TYPE="inference-component",
        SAGEMAKER_AUTOSCALING_MAX_COPIES=4,
        COPIES=2,
    )
    spec = endpoint_spec(settings)
    assert (spec.endpoint_type, spec.copies, spec.autoscaling, spec.hf_token) == (
        EndpointType.INFERENCE_COMPONENT_BASED,
        2,
        None,
        SECRET,
    )
    scaled = endpoint_spec(settings, autoscaling=True, container="lmi", model_data="")
    assert scaled.autoscaling == AutoscalingSpec(max_capacity=4)
    assert (scaled.container, scaled.model_data) == ("lmi", None)


# --- Dry run --------------------------------------------------------------------------------------------------
def test_the_dry_run_plan_calls_nothing_and_masks_secrets(stubs):
    deployer, sagemaker_stub, autoscaling_stub = stubs  # no responses added: a call would raise
    plan = deployer.plan(make_spec(autoscaling=SCALING))
    text = "\n".join(plan.lines())
    assert [line.split()[1] for line in plan.lines()] == [
        "sagemaker.create_model",
        "sagemaker.create_endpoint_config",
        "sagemaker.create_endpoint",
        "wait",
        "application-autoscaling.register_scalable_target",
        "application-autoscaling.put_scaling_policy",
    ]
    assert SECRET not in text and '"HUGGING_FACE_HUB_TOKEN": "***"' in text
    assert '"MAX_TOTAL_TOKENS": "4096"' in text  # token *counts* are not secrets
    assert "SageMakerVariantInvocationsPerInstance" in text
    assert plan.action == "create" and plan.summary().startswith("create the model-based SageMaker endpoint twin")
    sagemaker_stub.assert_no_pending_responses()
    autoscaling_stub.assert_no_pending_responses()


def test_masking_leaves_everything_but_secret_values():
    params = {"Environment": {"HF_TOKEN": "x", "MAX_TOTAL_TOKENS": "4096"}, "Keys": [{"SecretAccessKey": "y"}]}
    assert masked(params) == {
        "Environment": {"HF_TOKEN": "***", "MAX_TOTAL_TOKENS": "4096"},
        "Keys": [{"SecretAccessKey": "***"}],
    }


# --- Model-based deployment ---------------------------------------------------------------------------------
def test_a_fresh_model_based_deployment_creates_model_config_and_endpoint(stubs, said):
    deployer, sagemaker_stub, _ = stubs
    missing(sagemaker_stub, "describe_endpoint", {"EndpointName": "twin"}, "endpoint twin")
    missing(sagemaker_stub, "describe_endpoint_config", {"EndpointConfigName": "twin"}, "endpoint configuration twin")
    expect_model_based_creation(sagemaker_stub)

    plan = deployer.deploy(make_spec(), progress=said.append)

    assert (plan.action, plan.model_name, plan.endpoint_config_name) == ("create", MODEL, "twin")
    assert SECRET not in "\n".join(said)
    assert any("create_model" in line and '"HUGGING_FACE_HUB_TOKEN": "***"' in line for line in said)


def test_a_config_left_by_an_earlier_deployment_gets_a_new_name(stubs, said):
    deployer, sagemaker_stub, _ = stubs
    missing(sagemaker_stub, "describe_endpoint", {"EndpointName": "twin"}, "endpoint twin")
    sagemaker_stub.add_response("describe_endpoint_config", endpoint_config(), {"EndpointConfigName": "twin"})
    expect_model_based_creation(sagemaker_stub, config="twin-20250102-030405")
    deployer.deploy(make_spec(), progress=said.append)
    assert any("left from an earlier deployment: using twin-20250102-030405" in line for line in said)


def test_deploying_over_an_existing_endpoint_makes_a_new_config_and_updates_it(stubs, said):
    deployer, sagemaker_stub, _ = stubs
    sagemaker_stub.add_response("describe_endpoint", endpoint(config="twin"), {"EndpointName": "twin"})
    sagemaker_stub.add_response(
        "describe_endpoint_config",
        endpoint_config(ModelName="twin-model-20241201-000000", InstanceType="ml.g5.2xlarge"),
        {"EndpointConfigName": "twin"},
    )
    sagemaker_stub.add_response("create_model", {"ModelArn": f"{ARN}:model/{MODEL}"}, create_model_request())
    sagemaker_stub.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": f"{ARN}:endpoint-config/twin-20250102-030405"},
        {"EndpointConfigName": "twin-20250102-030405", "ProductionVariants": [model_variant()], "Tags": TAGS},
    )
    sagemaker_stub.add_response(
        "update_endpoint",
        {"EndpointArn": f"{ARN}:endpoint/twin"},
        {"EndpointName": "twin", "EndpointConfigName": "twin-20250102-030405"},
    )
    # --wait: boto3's endpoint_in_service waiter polls describe_endpoint
    sagemaker_stub.add_response("describe_endpoint", endpoint("Updating"), {"EndpointName": "twin"})
    sagemaker_stub.add_response("describe_endpoint", endpoint("InService"), {"EndpointName": "twin"})

    plan = deployer.deploy(make_spec(), wait=True, progress=said.append)

    assert (plan.action, plan.endpoint_config_name) == ("update", "twin-20250102-030405")
    assert said[0] == "Endpoint twin exists (InService): deploying the model as an update"


def test_changing_the_instance_type_of_a_scaled_endpoint_deregisters_then_rescales(stubs):
    deployer, sagemaker_stub, autoscaling_stub = stubs
    sagemaker_stub.add_response("describe_endpoint", endpoint(config="twin-20241201-000000"), {"EndpointName": "twin"})
    sagemaker_stub.add_response(
        "describe_endpoint_config",
        endpoint_config("twin-20241201-000000", ModelName="twin-model-20241201-000000", InstanceType="ml.g5.xlarge"),
        {"EndpointConfigName": "twin-20241201-000000"},
    )
    autoscaling_stub.add_response(
        "describe_scalable_targets",
        {"ScalableTargets": [scalable_target(VARIANT_TARGET)]},
        {
            "ServiceNamespace": "sagemaker",
            "ResourceIds": ["endpoint/twin/variant/AllTraffic"],
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        },
    )
    autoscaling_stub.add_response("deregister_scalable_target", {}, VARIANT_TARGET)
    sagemaker_stub.add_response("create_model", {"ModelArn": f"{ARN}:model/{MODEL}"}, create_model_request())
    sagemaker_stub.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": f"{ARN}:endpoint-config/twin-20250102-030405"},
        {"EndpointConfigName": "twin-20250102-030405", "ProductionVariants": [model_variant()], "Tags": TAGS},
    )
    sagemaker_stub.add_response(
        "update_endpoint",
        {"EndpointArn": f"{ARN}:endpoint/twin"},
        {"EndpointName": "twin", "EndpointConfigName": "twin-20250102-030405"},
    )
    sagemaker_stub.add_response("describe_endpoint", endpoint("InService"), {"EndpointName": "twin"})
    expect_autoscaling(
        autoscaling_stub, VARIANT_TARGET, "twin-invocations-per-instance", "SageMakerVariantInvocationsPerInstance"
    )

    plan = deployer.deploy(make_spec(autoscaling=SCALING), progress=lambda _: None)
    assert plan.steps[0].operation == "deregister_scalable_target"  # type: ignore[union-attr]


def test_a_failed_or_busy_endpoint_is_not_updated(stubs):
    deployer, sagemaker_stub, _ = stubs
    sagemaker_stub.add_response("describe_endpoint", endpoint("Failed", FailureReason="CUDA out of memory"))
    with pytest.raises(AwsResourceError, match=r"is Failed \(CUDA out of memory\): delete it"):
        deployer.deploy(make_spec(), progress=lambda _: None)
    sagemaker_stub.add_response("describe_endpoint", endpoint("Creating"))
    with pytest.raises(AwsResourceError, match="is Creating: deploy again once it is InService"):
        deployer.deploy(make_spec(), progress=lambda _: None)


def test_an_endpoint_of_the_other_type_is_refused(stubs):
    deployer, sagemaker_stub, _ = stubs
    sagemaker_stub.add_response("describe_endpoint", endpoint())
    sagemaker_stub.add_response("describe_endpoint_config", endpoint_config(ModelName="twin-model-20241201-000000"))
    spec = make_spec(endpoint_type=EndpointType.INFERENCE_COMPONENT_BASED)
    with pytest.raises(ImproperlyConfigured, match="twin is model-based"):
        deployer.deploy(spec, progress=lambda _: None)


def test_an_endpoint_that_fails_to_start_raises_with_sagemakers_reason(stubs):
    deployer, sagemaker_stub, _ = stubs
    missing(sagemaker_stub, "describe_endpoint", {"EndpointName": "twin"}, "endpoint twin")
    missing(sagemaker_stub, "describe_endpoint_config", {"EndpointConfigName": "twin"}, "endpoint configuration")
    expect_model_based_creation(sagemaker_stub)
    sagemaker_stub.add_response("describe_endpoint", endpoint("Failed", FailureReason="health check failed"))
    with pytest.raises(AwsResourceError, match=r"Failed: health check failed.*/aws/sagemaker/Endpoints/twin"):
        deployer.deploy(make_spec(), wait=True, progress=lambda _: None)


def test_aws_refusals_become_project_errors_with_the_fix(stubs):
    deployer, sagemaker_stub, _ = stubs
    missing(sagemaker_stub, "describe_endpoint", {"EndpointName": "twin"}, "endpoint twin")
    missing(sagemaker_stub, "describe_endpoint_config", {"EndpointConfigName": "twin"}, "endpoint configuration")
    sagemaker_stub.add_response("create_model", {"ModelArn": f"{ARN}:model/{MODEL}"})
    sagemaker_stub.add_response("create_endpoint_config", {"EndpointConfigArn": f"{ARN}:endpoint-config/twin"})
    sagemaker_stub.add_client_error(
        "create_endpoint", "ResourceLimitExceeded", "The account-level service limit 'ml.g5.2xlarge for endpoint usage'"
    )
    with pytest.raises(AwsResourceError, match=r"create_endpoint for twin was refused.*Service Quotas") as caught:
        deployer.deploy(make_spec(), progress=lambda _: None)
    assert (caught.value.aws_error_code, caught.value.resource) == ("ResourceLimitExceeded", "twin")


# --- Inference-component deployment -----------------------------------------------------------------------
def test_an_inference_component_deployment_with_autoscaling(stubs, said):
    deployer, sagemaker_stub, autoscaling_stub = stubs
    missing(sagemaker_stub, "describe_endpoint", {"EndpointName": "twin"}, "endpoint twin")
    missing(sagemaker_stub, "describe_endpoint_config", {"EndpointConfigName": "twin"}, "endpoint configuration")
    sagemaker_stub.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": f"{ARN}:endpoint-config/twin"},
        {
            "EndpointConfigName": "twin",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "InstanceType": "ml.g5.2xlarge",
                    "InitialInstanceCount": 1,
                    "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 3},
                }
            ],
            "Tags": TAGS,
            "ExecutionRoleArn": ROLE,
        },
    )
    sagemaker_stub.add_response(
        "create_endpoint",
        {"EndpointArn": f"{ARN}:endpoint/twin"},
        {"EndpointName": "twin", "EndpointConfigName": "twin", "Tags": TAGS},
    )
    sagemaker_stub.add_response("create_model", {"ModelArn": f"{ARN}:model/{MODEL}"}, create_model_request())
    sagemaker_stub.add_response("describe_endpoint", endpoint("Creating"), {"EndpointName": "twin"})
    sagemaker_stub.add_response("describe_endpoint", endpoint("InService"), {"EndpointName": "twin"})
    sagemaker_stub.add_response(
        "create_inference_component",
        {"InferenceComponentArn": f"{ARN}:inference-component/twin-llm"},
        {
            "EndpointName": "twin",
            "VariantName": "AllTraffic",
            "InferenceComponentName": "twin-llm",
            "Specification": component_specification(),
            "RuntimeConfig": {"CopyCount": 1},
            "Tags": TAGS,
        },
    )
    for status in ("Creating", "InService"):
        sagemaker_stub.add_response(
            "describe_inference_component", component(status), {"InferenceComponentName": "twin-llm"}
        )
    expect_autoscaling(
        autoscaling_stub, IC_TARGET, "twin-llm-invocations-per-copy", "SageMakerInferenceComponentInvocationsPerCopy"
    )

    spec = make_spec(endpoint_type=EndpointType.INFERENCE_COMPONENT_BASED, autoscaling=SCALING)
    plan = deployer.deploy(spec, progress=said.append)

    assert plan.action == "create"
    assert SECRET not in "\n".join(said)


def test_redeploying_an_inference_component_endpoint_updates_the_component(stubs):
    deployer, sagemaker_stub, _ = stubs
    sagemaker_stub.add_response("describe_endpoint", endpoint(), {"EndpointName": "twin"})
    sagemaker_stub.add_response(
        "describe_endpoint_config", endpoint_config(InstanceType="ml.g5.2xlarge"), {"EndpointConfigName": "twin"}
    )
    sagemaker_stub.add_response(
        "describe_inference_component",
        component("InService", "twin-model-20241201-000000"),
        {"InferenceComponentName": "twin-llm"},
    )
    sagemaker_stub.add_response("create_model", {"ModelArn": f"{ARN}:model/{MODEL}"}, create_model_request())
    sagemaker_stub.add_response(
        "update_inference_component",
        {"InferenceComponentArn": f"{ARN}:inference-component/twin-llm"},
        {
            "InferenceComponentName": "twin-llm",
            "Specification": component_specification(),
            "RuntimeConfig": {"CopyCount": 1},
        },
    )
    plan = deployer.deploy(make_spec(endpoint_type="inference-component"), progress=lambda _: None)
    assert (plan.action, plan.endpoint_config_name) == ("update", None)


# --- Deletion -------------------------------------------------------------------------------------------------
def scalable_target(keys: dict) -> dict:
    return keys | {
        "MinCapacity": 1,
        "MaxCapacity": 3,
        "RoleARN": "arn:aws:iam::123456789012:role/aws-service-role/x",
        "CreationTime": WHEN,
    }


def summary(kind: str, name: str) -> dict:
    field, arn = {"config": ("EndpointConfigName", "endpoint-config"), "model": ("ModelName", "model")}[kind]
    return {field: name, f"{field[:-4]}Arn": f"{ARN}:{arn}/{name}", "CreationTime": WHEN}


def test_delete_removes_autoscaling_components_endpoint_configs_and_models(stubs, said):
    deployer, sagemaker_stub, autoscaling_stub = stubs
    sagemaker_stub.add_response(
        "describe_endpoint",
        endpoint(config="twin-20250102-030405", ProductionVariants=[{"VariantName": "AllTraffic"}]),
        {"EndpointName": "twin"},
    )
    sagemaker_stub.add_response(
        "list_inference_components",
        {
            "InferenceComponents": [
                {
                    "InferenceComponentName": "twin-llm",
                    "InferenceComponentArn": f"{ARN}:inference-component/twin-llm",
                    "EndpointName": "twin",
                    "EndpointArn": f"{ARN}:endpoint/twin",
                    "VariantName": "AllTraffic",
                    "CreationTime": WHEN,
                    "LastModifiedTime": WHEN,
                }
            ]
        },
        {"EndpointNameEquals": "twin"},
    )
    autoscaling_stub.add_response(
        "describe_scalable_targets",
        {"ScalableTargets": [scalable_target(IC_TARGET)]},
        {
            "ServiceNamespace": "sagemaker",
            "ResourceIds": ["inference-component/twin-llm"],
            "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
        },
    )
    autoscaling_stub.add_response(
        "describe_scaling_policies",
        {
            "ScalingPolicies": [
                {
                    "PolicyARN": "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:p",
                    "PolicyName": "twin-llm-invocations-per-copy",
                    "PolicyType": "TargetTrackingScaling",
                    "CreationTime": WHEN,
                    **IC_TARGET,
                }
            ]
        },
        IC_TARGET,
    )
    autoscaling_stub.add_response(
        "delete_scaling_policy", {}, {"PolicyName": "twin-llm-invocations-per-copy", **IC_TARGET}
    )
    autoscaling_stub.add_response("deregister_scalable_target", {}, IC_TARGET)
    sagemaker_stub.add_response(
        "describe_inference_component", component("InService"), {"InferenceComponentName": "twin-llm"}
    )
    sagemaker_stub.add_response("delete_inference_component", {}, {"InferenceComponentName": "twin-llm"})
    sagemaker_stub.add_response(
        "describe_inference_component", component("Deleting"), {"InferenceComponentName": "twin-llm"}
    )
    missing(
        sagemaker_stub, "describe_inference_component", {"InferenceComponentName": "twin-llm"}, "inference component"
    )
    autoscaling_stub.add_response(
        "describe_scalable_targets",
        {"ScalableTargets": []},
        {
            "ServiceNamespace": "sagemaker",
            "ResourceIds": ["endpoint/twin/variant/AllTraffic"],
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        },
    )
    sagemaker_stub.add_response(
        "describe_endpoint_config",
        endpoint_config("twin-20250102-030405", InstanceType="ml.g5.2xlarge"),
        {"EndpointConfigName": "twin-20250102-030405"},
    )
    sagemaker_stub.add_response("delete_endpoint", {}, {"EndpointName": "twin"})
    sagemaker_stub.add_response(
        "list_endpoint_configs",
        {
            "EndpointConfigs": [
                summary("config", "twin"),
                summary("config", "twin-20250102-030405"),
                summary("config", "twin-other"),  # another project's: not ours
            ]
        },
        {"NameContains": "twin"},
    )
    sagemaker_stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "twin"})
    missing(
        sagemaker_stub,
        "delete_endpoint_config",
        {"EndpointConfigName": "twin-20250102-030405"},
        "endpoint configuration",
    )
    sagemaker_stub.add_response(
        "list_models",
        {"Models": [summary("model", "twin-model-20241201-000000"), summary("model", "twin-model-x")]},
        {"NameContains": "twin-model-"},
    )
    sagemaker_stub.add_response("delete_model", {}, {"ModelName": "twin-model-20241201-000000"})
    sagemaker_stub.add_response("delete_model", {}, {"ModelName": MODEL})

    messages = deployer.delete(make_spec(endpoint_type="inference-component"), progress=said.append)

    assert (
        messages
        == said
        == [
            "Deleted scaling policy twin-llm-invocations-per-copy.",
            "Deregistered scalable target inference-component/twin-llm.",
            "Deleted inference component twin-llm.",
            "No autoscaling registered for endpoint/twin/variant/AllTraffic.",
            "Deleted endpoint twin (its instances stop billing once it is gone).",
            "Deleted endpoint config twin.",
            "Endpoint config twin-20250102-030405 was already gone.",
            "Deleted model twin-model-20241201-000000.",
            f"Deleted model {MODEL}.",
        ]
    )


def test_delete_when_nothing_exists_says_so(stubs, said):
    deployer, sagemaker_stub, autoscaling_stub = stubs
    missing(sagemaker_stub, "describe_endpoint", {"EndpointName": "twin"}, "endpoint twin")
    for keys in (VARIANT_TARGET, IC_TARGET):
        autoscaling_stub.add_response(
            "describe_scalable_targets",
            {"ScalableTargets": []},
            {
                "ServiceNamespace": "sagemaker",
                "ResourceIds": [keys["ResourceId"]],
                "ScalableDimension": keys["ScalableDimension"],
            },
        )
    sagemaker_stub.add_response("list_endpoint_configs", {"EndpointConfigs": []}, {"NameContains": "twin"})
    sagemaker_stub.add_response("list_models", {"Models": []}, {"NameContains": "twin-model-"})

    messages = deployer.delete(make_spec(), progress=said.append)

    assert messages == [
        "Endpoint twin does not exist.",
        "No autoscaling registered for endpoint/twin/variant/AllTraffic.",
        "No autoscaling registered for inference-component/twin-llm.",
        "No endpoint configs twin[-<time>].",
        "No models twin-model-<time>.",
    ]


# --- From settings ---------------------------------------------------------------------------------------------
def test_the_deployer_factory_builds_regional_clients_without_calling_aws():
    settings = load_settings(AWS_REGION="us-east-1", AWS_ACCESS_KEY="AKIAFAKE", AWS_SECRET_KEY="fake-secret")
    deployer = build_endpoint_deployer(settings)
    assert deployer.sagemaker.meta.service_model.service_name == "sagemaker"
    assert deployer.autoscaling.meta.service_model.service_name == "application-autoscaling"
    assert deployer.sagemaker.meta.region_name == deployer.autoscaling.meta.region_name == "us-east-1"
    with pytest.raises(ImproperlyConfigured, match="go together"):
        build_endpoint_deployer(load_settings(AWS_ACCESS_KEY="AKIAFAKE"))
