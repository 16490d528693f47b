"""tools/sagemaker.py end to end over botocore-stubbed clients: dry runs call nothing, secrets never print."""

from __future__ import annotations

import datetime as dt
import io
import json
import stat
import tomllib

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from click.testing import CliRunner

from llm_engineering.domain.prompts import format_instruction_prompt
from llm_engineering.infrastructure.aws.deploy import SageMakerEndpointDeployer
from llm_engineering.infrastructure.aws.roles import SageMakerIam
from llm_engineering.settings import load_settings
from tests.conftest import PROJECT_ROOT
from tools import sagemaker as cli

ROLE = "arn:aws:iam::123456789012:role/twin-sagemaker-execution"
SECRET = "hf_secret_token_value"
KEY_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
NOW = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
WHEN = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
TASKS = (
    "create-sagemaker-role",
    "create-sagemaker-execution-role",
    "deploy-inference-endpoint",
    "test-sagemaker-endpoint",
    "delete-inference-endpoint",
)


@pytest.fixture(autouse=True)
def no_shared_aws_config(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def use_settings(monkeypatch, tmp_path, **values) -> None:
    settings = load_settings(
        env_file=tmp_path / "none.env", AWS_REGION="us-east-1", HUGGINGFACE_ACCESS_TOKEN=SECRET, **values
    )
    monkeypatch.setattr(cli, "_settings", lambda: settings)


@pytest.fixture
def stubbed_deployer(monkeypatch):
    """The CLI's deployer on stubbed clients; no responses unless a test adds them."""
    sagemaker = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    autoscaling = boto3.client(
        "application-autoscaling", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    with Stubber(sagemaker) as sagemaker_stub, Stubber(autoscaling) as autoscaling_stub:
        deployer = SageMakerEndpointDeployer(sagemaker, autoscaling, now=lambda: NOW, poll_s=0, sleep=lambda _: None)
        monkeypatch.setattr(cli, "_deployer", lambda settings, session: deployer)
        yield sagemaker_stub, autoscaling_stub
        sagemaker_stub.assert_no_pending_responses()
        autoscaling_stub.assert_no_pending_responses()


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args))


# --- Deploy -----------------------------------------------------------------------------------------------
def test_without_credentials_deploy_prints_the_plan_as_a_dry_run(monkeypatch, tmp_path, stubbed_deployer):
    use_settings(monkeypatch, tmp_path)
    result = run("deploy-inference-endpoint")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Dry run (no AWS credentials: set AWS_ACCESS_KEY and AWS_SECRET_KEY")
    assert "no AWS call was made" in result.output
    for expected in ("sagemaker.create_model", "sagemaker.create_endpoint_config", "sagemaker.create_endpoint {"):
        assert expected in result.output
    assert SECRET not in result.output and '"HUGGING_FACE_HUB_TOKEN": "***"' in result.output
    assert "no SageMaker execution role: set AWS_ARN_ROLE" in result.output
    assert "poetry run poe delete-inference-endpoint" in result.output


def test_the_dry_run_flag_calls_nothing_even_with_credentials(monkeypatch, tmp_path, credentials, stubbed_deployer):
    use_settings(monkeypatch, tmp_path, AWS_ARN_ROLE=ROLE)
    result = run(
        "deploy-inference-endpoint",
        "--dry-run",
        "--endpoint-type",
        "inference-component",
        "--autoscaling",
        "--container",
        "lmi",
        "--model-data",
        "s3://twin-models/twin/v3/model.tar.gz",
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Dry run (--dry-run)")
    assert "inference-component-based SageMaker endpoint twin" in result.output
    assert "djl-inference:0.31.0-lmi13.0.0-cu124" in result.output
    assert '"ModelDataUrl": "s3://twin-models/twin/v3/model.tar.gz"' in result.output
    assert "application-autoscaling.put_scaling_policy" in result.output
    assert "update_inference_component" in result.output
    assert "Note: HF_MODEL_QUANTIZE=bitsandbytes is a TGI option" in result.output
    assert "Before deploying for real" not in result.output
    assert SECRET not in result.output


def test_deploy_creates_the_endpoint(monkeypatch, tmp_path, credentials, stubbed_deployer):
    sagemaker_stub, _ = stubbed_deployer
    use_settings(monkeypatch, tmp_path, AWS_ARN_ROLE=ROLE)
    arn = "arn:aws:sagemaker:us-east-1:123456789012"
    for operation, key in (("describe_endpoint", "EndpointName"), ("describe_endpoint_config", "EndpointConfigName")):
        sagemaker_stub.add_client_error(operation, "ValidationException", "Could not find it.", 400, {key: "twin"})
    sagemaker_stub.add_response("create_model", {"ModelArn": f"{arn}:model/m"})
    sagemaker_stub.add_response("create_endpoint_config", {"EndpointConfigArn": f"{arn}:endpoint-config/twin"})
    sagemaker_stub.add_response(
        "create_endpoint",
        {"EndpointArn": f"{arn}:endpoint/twin"},
        {"EndpointName": "twin", "EndpointConfigName": "twin", "Tags": [{"Key": "project", "Value": "llm-twin"}]},
    )
    result = run("deploy-inference-endpoint")
    assert result.exit_code == 0, result.output
    assert "Endpoint twin: being created (15-30 minutes; add --wait to follow it)" in result.output
    assert "Model twin-model-20250102-030405." in result.output
    assert SECRET not in result.output


def test_deploy_errors_are_one_line_messages(monkeypatch, tmp_path, credentials, stubbed_deployer):
    use_settings(monkeypatch, tmp_path)  # no AWS_ARN_ROLE: refused before any call
    result = run("deploy-inference-endpoint")
    assert result.exit_code == 1
    assert "Error: Cannot deploy the SageMaker endpoint:" in result.output
    assert "Traceback" not in result.output


# --- IAM --------------------------------------------------------------------------------------------------
@pytest.fixture
def stubbed_iam(monkeypatch):
    client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stub:
        monkeypatch.setattr(cli, "_iam", lambda settings, session, progress: SageMakerIam(client, "aws", progress))
        yield stub
        stub.assert_no_pending_responses()


def iam_user() -> dict:
    return {
        "Path": "/",
        "UserName": "twin-sagemaker-deployer",
        "UserId": "AIDAEXAMPLEUSERID01",
        "Arn": "arn:aws:iam::123456789012:user/twin-sagemaker-deployer",
        "CreateDate": WHEN,
    }


def test_create_sagemaker_role_writes_the_key_and_never_prints_it(monkeypatch, tmp_path, credentials, stubbed_iam):
    use_settings(monkeypatch, tmp_path)
    stubbed_iam.add_response("create_user", {"User": iam_user()})
    stubbed_iam.add_response("put_user_policy", {})
    key = {
        "UserName": "twin-sagemaker-deployer",
        "AccessKeyId": "AKIANEWKEYEXAMPLE1",
        "Status": "Active",
        "SecretAccessKey": KEY_SECRET,
    }
    stubbed_iam.add_response("create_access_key", {"AccessKey": key}, {"UserName": "twin-sagemaker-deployer"})
    output = tmp_path / "aws" / "sagemaker_user_credentials.json"
    result = run("create-sagemaker-role", "--output", str(output))
    assert result.exit_code == 0, result.output
    assert KEY_SECRET not in result.output and "AKIANEWKEYEXAMPLE1" not in result.output
    assert json.loads(output.read_text())["SecretAccessKey"] == KEY_SECRET
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert "Created IAM user twin-sagemaker-deployer." in result.output


def test_create_execution_role_prints_the_arn_to_set(monkeypatch, tmp_path, credentials, stubbed_iam):
    use_settings(monkeypatch, tmp_path)
    role = {
        "Path": "/",
        "RoleName": "twin-sagemaker-execution",
        "RoleId": "AROAEXAMPLEROLEID01",
        "Arn": ROLE,
        "CreateDate": WHEN,
    }
    stubbed_iam.add_response("create_role", {"Role": role})
    stubbed_iam.add_response("list_attached_role_policies", {"AttachedPolicies": []})
    for _ in range(3):
        stubbed_iam.add_response("attach_role_policy", {})
    output = tmp_path / "role.json"
    result = run("create-sagemaker-execution-role", "--output", str(output))
    assert result.exit_code == 0, result.output
    assert f"Set it in .env: AWS_ARN_ROLE={ROLE}" in result.output
    assert json.loads(output.read_text())["Arn"] == ROLE


def test_iam_commands_need_credentials(monkeypatch, tmp_path):
    use_settings(monkeypatch, tmp_path)
    result = run("create-sagemaker-role", "--output", str(tmp_path / "c.json"))
    assert result.exit_code == 1
    assert "No AWS credentials to create the IAM user" in result.output


# --- Test call and delete --------------------------------------------------------------------------------
def test_the_endpoint_test_asks_the_books_question(monkeypatch, tmp_path, credentials):
    use_settings(monkeypatch, tmp_path, SAGEMAKER_ENDPOINT_TYPE="inference-component", MAX_NEW_TOKENS_INFERENCE=100)
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
    body = json.dumps(
        {
            "inputs": format_instruction_prompt(cli.BOOK_PROMPT),
            "parameters": {
                "max_new_tokens": 100,
                "top_p": 0.9,
                "temperature": 0.01,
                "repetition_penalty": 1.1,
                "return_full_text": False,
            },
        }
    )
    answer = json.dumps([{"generated_text": " Endpoints serve models. ", "details": {"generated_tokens": 4}}]).encode()
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": "application/json"},
            {
                "EndpointName": "twin",
                "ContentType": "application/json",
                "Accept": "application/json",
                "Body": body,
                "InferenceComponentName": "twin-llm",
            },
        )
        monkeypatch.setattr(cli, "_runtime", lambda settings: runtime)
        result = run("test-sagemaker-endpoint")
        stub.assert_no_pending_responses()
    assert result.exit_code == 0, result.output
    assert "Endpoint: twin / twin-llm" in result.output
    assert "Answer:\nEndpoints serve models." in result.output
    assert "4 new tokens" in result.output


def test_deleting_when_nothing_is_deployed_says_so_and_succeeds(monkeypatch, tmp_path, credentials, stubbed_deployer):
    sagemaker_stub, autoscaling_stub = stubbed_deployer
    use_settings(monkeypatch, tmp_path)
    sagemaker_stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint twin.")
    autoscaling_stub.add_response("describe_scalable_targets", {"ScalableTargets": []})
    autoscaling_stub.add_response("describe_scalable_targets", {"ScalableTargets": []})
    sagemaker_stub.add_response("list_endpoint_configs", {"EndpointConfigs": []}, {"NameContains": "twin"})
    sagemaker_stub.add_response("list_models", {"Models": []}, {"NameContains": "twin-model-"})
    result = run("delete-inference-endpoint")
    assert result.exit_code == 0, result.output
    assert "Endpoint twin does not exist." in result.output
    assert "No models twin-model-<time>." in result.output


def test_deleting_without_credentials_fails_clearly(monkeypatch, tmp_path):
    use_settings(monkeypatch, tmp_path)
    result = run("delete-inference-endpoint")
    assert result.exit_code == 1
    assert "No AWS credentials to delete the endpoint" in result.output


def test_each_poe_task_runs_its_subcommand():
    tasks = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["poe"]["tasks"]
    for name in TASKS:
        assert tasks[name]["cmd"] == f"python -m tools.sagemaker {name}"
        assert tasks[name]["help"]
        assert name in cli.main.commands


def test_continuous_training_deploy_refuses_to_pretend_without_credentials(monkeypatch, tmp_path):
    from llm_engineering.domain.exceptions import ImproperlyConfigured

    use_settings(monkeypatch, tmp_path, AWS_ARN_ROLE=ROLE)
    with pytest.raises(ImproperlyConfigured, match="no AWS credentials"):
        cli.deploy_for_continuous_training()
