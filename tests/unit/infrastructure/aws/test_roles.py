"""The IAM user and execution role against a botocore-stubbed IAM client: every call and its parameters."""

from __future__ import annotations

import datetime as dt
import json
import stat
from urllib.parse import quote

import boto3
import pytest
from botocore.stub import Stubber

from llm_engineering.bootstrap.builders.aws import build_sagemaker_iam
from llm_engineering.infrastructure.aws.roles import (
    MAX_USER_POLICY_CHARS,
    USER_POLICY_NAME,
    SageMakerIam,
    compact_json,
    deployment_user_policy,
    execution_role_trust_policy,
    write_private_json,
)
from llm_engineering.infrastructure.errors import AwsResourceError
from llm_engineering.settings import load_settings

USER = "twin-sagemaker-deployer"
ROLE = "twin-sagemaker-execution"
USER_ARN = f"arn:aws:iam::123456789012:user/{USER}"
ROLE_ARN = f"arn:aws:iam::123456789012:role/{ROLE}"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
WHEN = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
TAGS = [{"Key": "project", "Value": "llm-twin"}]
POLICY = compact_json(deployment_user_policy("aws", ROLE))
MANAGED = [
    "arn:aws:iam::aws:policy/AmazonS3FullAccess",
    "arn:aws:iam::aws:policy/CloudWatchLogsFullAccess",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
]


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def iam():
    client = boto3.client("iam", region_name="us-east-1")
    said: list[str] = []
    with Stubber(client) as stub:
        yield SageMakerIam(client, "aws", said.append), stub, said
        stub.assert_no_pending_responses()


def user(name: str = USER) -> dict:
    return {"Path": "/", "UserName": name, "UserId": "AIDAEXAMPLEUSERID01", "Arn": USER_ARN, "CreateDate": WHEN}


def role(trust: dict | None = None) -> dict:
    found = {"Path": "/", "RoleName": ROLE, "RoleId": "AROAEXAMPLEROLEID01", "Arn": ROLE_ARN, "CreateDate": WHEN}
    # IAM returns the trust policy URL-encoded (boto3's parser decodes it; the Stubber skips the parser).
    return found | ({"AssumeRolePolicyDocument": quote(json.dumps(trust))} if trust is not None else {})


def expect_new_key(stub: Stubber) -> None:
    stub.add_response(
        "create_access_key",
        {
            "AccessKey": {
                "UserName": USER,
                "AccessKeyId": "AKIANEWKEYEXAMPLE1",
                "Status": "Active",
                "SecretAccessKey": SECRET,
            }
        },
        {"UserName": USER},
    )


def expect_policy(stub: Stubber) -> None:
    stub.add_response(
        "put_user_policy", {}, {"UserName": USER, "PolicyName": USER_POLICY_NAME, "PolicyDocument": POLICY}
    )


# --- The deployment user ------------------------------------------------------------------------------------
def test_a_new_user_gets_the_narrow_policy_and_a_key_in_a_private_file(iam, tmp_path):
    setup, stub, said = iam
    stub.add_response("create_user", {"User": user()}, {"UserName": USER, "Tags": TAGS})
    expect_policy(stub)
    expect_new_key(stub)
    path = tmp_path / "aws" / "sagemaker_user_credentials.json"

    result = setup.create_deployment_user(USER, path, ROLE)

    assert (result.created, result.key_created, result.arn) == (True, True, USER_ARN)
    assert json.loads(path.read_text()) == {
        "UserName": USER,
        "AccessKeyId": "AKIANEWKEYEXAMPLE1",
        "SecretAccessKey": SECRET,
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SECRET not in "\n".join(said) and SECRET not in repr(result)
    assert said[0] == f"Created IAM user {USER}."


def test_an_existing_user_whose_key_is_on_file_keeps_it(iam, tmp_path):
    setup, stub, said = iam
    path = tmp_path / "credentials.json"
    write_private_json(path, {"UserName": USER, "AccessKeyId": "AKIAOLDKEYEXAMPLE1", "SecretAccessKey": SECRET})
    stub.add_client_error("create_user", "EntityAlreadyExists", f"User with name {USER} already exists.", 409)
    stub.add_response("get_user", {"User": user()}, {"UserName": USER})
    expect_policy(stub)
    stub.add_response(
        "list_access_keys",
        {"AccessKeyMetadata": [{"UserName": USER, "AccessKeyId": "AKIAOLDKEYEXAMPLE1", "Status": "Active"}]},
        {"UserName": USER},
    )

    result = setup.create_deployment_user(USER, path, ROLE)

    assert (result.created, result.key_created) == (False, False)
    assert json.loads(path.read_text())["AccessKeyId"] == "AKIAOLDKEYEXAMPLE1"
    assert f"IAM user {USER} already exists: reusing it." in said
    assert f"Kept its access key, already in {path}." in said


def test_an_existing_user_without_its_key_on_file_gets_a_new_one(iam, tmp_path):
    setup, stub, _ = iam
    stub.add_client_error("create_user", "EntityAlreadyExists", "exists", 409)
    stub.add_response("get_user", {"User": user()}, {"UserName": USER})
    expect_policy(stub)
    expect_new_key(stub)
    result = setup.create_deployment_user(USER, tmp_path / "credentials.json", ROLE)
    assert (result.created, result.key_created) == (False, True)


def test_a_user_with_two_keys_already_gets_the_fix(iam, tmp_path):
    setup, stub, _ = iam
    stub.add_client_error("create_user", "EntityAlreadyExists", "exists", 409)
    stub.add_response("get_user", {"User": user()}, {"UserName": USER})
    expect_policy(stub)
    stub.add_client_error("create_access_key", "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409)
    with pytest.raises(AwsResourceError, match="delete-access-key") as caught:
        setup.create_deployment_user(USER, tmp_path / "credentials.json", ROLE)
    assert caught.value.aws_error_code == "LimitExceeded"
    assert not (tmp_path / "credentials.json").exists()


def test_the_user_policy_is_narrow_and_fits_iams_limit():
    policy = deployment_user_policy("aws", ROLE)
    assert len(compact_json(policy)) <= MAX_USER_POLICY_CHARS
    actions = [action for statement in policy["Statement"] for action in statement["Action"]]
    assert {action.split(":")[0] for action in actions} == {
        "sagemaker",
        "application-autoscaling",
        "cloudwatch",
        "iam",
        "ecr",
        "s3",
        "logs",
    }
    iam_statements = [statement for statement in policy["Statement"] if statement["Action"][0].startswith("iam:")]
    assert {statement["Action"][0] for statement in iam_statements} == {"iam:PassRole", "iam:CreateServiceLinkedRole"}
    pass_role = next(statement for statement in iam_statements if statement["Action"] == ["iam:PassRole"])
    assert pass_role["Resource"] == f"arn:aws:iam::*:role/{ROLE}"
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert deployment_user_policy("aws-cn", ROLE)["Statement"][5]["Resource"].startswith("arn:aws-cn:iam::")


# --- The execution role ---------------------------------------------------------------------------------------
def test_a_new_execution_role_trusts_sagemaker_and_gets_its_policies_once(iam, tmp_path):
    setup, stub, said = iam
    stub.add_response(
        "create_role",
        {"Role": role()},
        {
            "RoleName": ROLE,
            "AssumeRolePolicyDocument": compact_json(execution_role_trust_policy()),
            "Description": "SageMaker execution role of the LLM Twin (endpoints and training jobs)",
            "Tags": TAGS,
        },
    )
    stub.add_response("list_attached_role_policies", {"AttachedPolicies": []}, {"RoleName": ROLE})
    for arn in MANAGED:
        stub.add_response("attach_role_policy", {}, {"RoleName": ROLE, "PolicyArn": arn})
    path = tmp_path / "aws" / "sagemaker_execution_role.json"

    result = setup.create_execution_role(ROLE, path)

    assert (result.arn, result.created) == (ROLE_ARN, True)
    assert result.attached == ("AmazonS3FullAccess", "CloudWatchLogsFullAccess", "AmazonEC2ContainerRegistryReadOnly")
    assert json.loads(path.read_text()) == {"RoleName": ROLE, "Arn": ROLE_ARN}
    assert said[0] == f"Created IAM role {ROLE}."
    assert "sts:AssumeRole" in compact_json(execution_role_trust_policy())


def test_an_existing_role_is_reused_and_only_missing_policies_are_attached(iam, tmp_path):
    setup, stub, said = iam
    stub.add_client_error("create_role", "EntityAlreadyExists", f"Role with name {ROLE} already exists.", 409)
    stub.add_response("get_role", {"Role": role(execution_role_trust_policy())}, {"RoleName": ROLE})
    stub.add_response(
        "list_attached_role_policies",
        {"AttachedPolicies": [{"PolicyName": "AmazonS3FullAccess", "PolicyArn": MANAGED[0]}]},
        {"RoleName": ROLE},
    )
    for arn in MANAGED[1:]:
        stub.add_response("attach_role_policy", {}, {"RoleName": ROLE, "PolicyArn": arn})

    result = setup.create_execution_role(ROLE, tmp_path / "role.json")

    assert (result.created, result.attached) == (
        False,
        ("CloudWatchLogsFullAccess", "AmazonEC2ContainerRegistryReadOnly"),
    )
    assert f"IAM role {ROLE} already exists: reusing it." in said
    assert "Policy AmazonS3FullAccess is already attached." in said
    assert not any(line.startswith("Warning") for line in said)


def test_an_existing_role_that_does_not_trust_sagemaker_is_flagged(iam, tmp_path):
    setup, stub, said = iam
    stub.add_client_error("create_role", "EntityAlreadyExists", "exists", 409)
    lambda_trust = {"Statement": [{"Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    stub.add_response("get_role", {"Role": role(lambda_trust)}, {"RoleName": ROLE})
    stub.add_response(
        "list_attached_role_policies",
        {"AttachedPolicies": [{"PolicyArn": arn} for arn in MANAGED]},
        {"RoleName": ROLE},
    )
    setup.create_execution_role(ROLE, tmp_path / "role.json")
    assert any(line.startswith(f"Warning: role {ROLE} does not trust sagemaker.amazonaws.com") for line in said)


# --- Files and factory ------------------------------------------------------------------------------------------
def test_private_files_stay_private_even_over_a_readable_file(tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text("{}")
    path.chmod(0o644)
    write_private_json(path, {"SecretAccessKey": SECRET})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"SecretAccessKey": SECRET}
    assert [item.name for item in tmp_path.iterdir()] == ["credentials.json"]


def test_the_factory_builds_an_iam_client_for_the_regions_partition():
    settings = load_settings(AWS_REGION="cn-north-1", AWS_ACCESS_KEY="AKIAFAKE", AWS_SECRET_KEY="fake-secret")
    setup = build_sagemaker_iam(settings)
    assert setup.iam.meta.service_model.service_name == "iam"
    assert setup.partition == "aws-cn"
