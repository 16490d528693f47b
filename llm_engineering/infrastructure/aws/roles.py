"""The two IAM identities the SageMaker deployment needs, created idempotently over plain boto3.

- A narrow IAM *user* for day-to-day work (`poe create-sagemaker-role`): it may create, update and delete
  SageMaker models, endpoints, inference components and training jobs, their autoscaling, ECR images and
  S3 objects, and pass the execution role to SageMaker; nothing else. Its access key goes to a JSON file
  readable by its owner only (mode 0600), to be copied into AWS_ACCESS_KEY / AWS_SECRET_KEY, and is
  never logged nor printed.
- The *execution role* SageMaker assumes (`poe create-sagemaker-execution-role`): trusted by
  sagemaker.amazonaws.com, with AWS-managed policies for S3, CloudWatch Logs and ECR (read-only). Its ARN
  goes to a JSON file and into AWS_ARN_ROLE.

Both reuse what exists (and say so); policies are attached once. The admin keys in AWS_ACCESS_KEY /
AWS_SECRET_KEY create them; afterwards the narrow user's keys replace those.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from loguru import logger

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.aws.calls import PROJECT_TAG, all_pages, call_aws
from llm_engineering.infrastructure.errors import AwsResourceError

USER_POLICY_NAME = "llm-twin-sagemaker-deployment"
# IAM's limit for a user's inline policies, counted without whitespace.
MAX_USER_POLICY_CHARS = 2048
EXECUTION_ROLE_POLICIES = ("AmazonS3FullAccess", "CloudWatchLogsFullAccess", "AmazonEC2ContainerRegistryReadOnly")
SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
AUTOSCALING_PRINCIPAL = "sagemaker.application-autoscaling.amazonaws.com"


def deployment_user_policy(partition: str, execution_role_name: str) -> dict[str, Any]:
    """The narrow user's inline policy: SageMaker hosting and training, their autoscaling, ECR, S3."""

    def allow(sid: str, actions: list[str], resource: str = "*", **extra: Any) -> dict[str, Any]:
        return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource, **extra}

    sagemaker = ["*Model", "*EndpointConfig", "*Endpoint", "*InferenceComponent", "*TrainingJob", "List*", "AddTags"]
    ecr = ["GetAuthorizationToken", "BatchGetImage", "GetDownloadUrlForLayer", "BatchCheckLayerAvailability"]
    ecr += ["*Repository", "DescribeRepositories", "DescribeImages", "*LayerUpload", "UploadLayerPart", "PutImage"]
    s3 = ["CreateBucket", "DeleteBucket", "ListBucket", "GetBucketLocation", "GetObject", "PutObject", "DeleteObject"]
    return {
        "Version": "2012-10-17",
        "Statement": [
            allow("SageMaker", [f"sagemaker:{action}" for action in sagemaker]),
            allow("Autoscaling", ["application-autoscaling:*", "cloudwatch:*Alarms", "cloudwatch:PutMetricAlarm"]),
            allow(
                "AutoscalingRole",
                ["iam:CreateServiceLinkedRole"],
                f"arn:{partition}:iam::*:role/aws-service-role/{AUTOSCALING_PRINCIPAL}/*",
                Condition={"StringEquals": {"iam:AWSServiceName": AUTOSCALING_PRINCIPAL}},
            ),
            allow("Images", [f"ecr:{action}" for action in ecr]),
            allow("Artifacts", [f"s3:{action}" for action in s3]),
            allow(
                "PassExecutionRole",
                ["iam:PassRole"],
                f"arn:{partition}:iam::*:role/{execution_role_name}",
                Condition={"StringEquals": {"iam:PassedToService": SAGEMAKER_PRINCIPAL}},
            ),
            allow("Logs", ["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"]),
        ],
    }


def execution_role_trust_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": SAGEMAKER_PRINCIPAL}, "Action": "sts:AssumeRole"}],
    }


def compact_json(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


def write_private_json(path: Path, data: dict[str, Any], mode: int = 0o600) -> None:
    """Write JSON readable by the owner only: created with `mode` (never world-readable, even briefly),
    then moved over the old file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(descriptor, mode)  # the umask may have removed bits; an existing file keeps its own mode
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    temporary.replace(path)


@dataclass(frozen=True)
class UserSetup:
    """What `create_deployment_user` did. The secret is only in the credentials file."""

    user_name: str
    arn: str
    created: bool
    key_created: bool
    credentials_path: Path


@dataclass(frozen=True)
class RoleSetup:
    role_name: str
    arn: str
    created: bool
    attached: tuple[str, ...]
    role_path: Path


class SageMakerIam:
    """Creates the deployment user and the execution role on an injected boto3 `iam` client."""

    def __init__(self, iam_client: Any, partition: str = "aws", progress: Callable[[str], None] = logger.info):
        self.iam = iam_client
        self.partition = partition
        self._progress = progress

    def create_deployment_user(self, user_name: str, credentials_path: Path, execution_role_name: str) -> UserSetup:
        """Create (or reuse) the narrow user, set its policy, and write an access key to `credentials_path`.

        An existing user whose key is already in that file keeps it; otherwise a new key is made (IAM allows
        two per user). Raises AwsResourceError when IAM refuses a call.
        """
        policy = compact_json(deployment_user_policy(self.partition, execution_role_name))
        if len(policy) > MAX_USER_POLICY_CHARS:  # a guard for whoever extends the policy
            raise ImproperlyConfigured(f"The user policy has {len(policy)} characters; IAM allows 2048.")
        user, created = self._create_or_get("user", user_name, UserName=user_name, Tags=[PROJECT_TAG])
        call_aws(
            self.iam,
            "put_user_policy",
            user_name,
            UserName=user_name,
            PolicyName=USER_POLICY_NAME,
            PolicyDocument=policy,
        )
        self._progress(
            f"Set its inline policy {USER_POLICY_NAME}: SageMaker models, endpoints, inference components and "
            f"training jobs, their autoscaling, ECR, S3, and passing {execution_role_name} to SageMaker."
        )
        if not created and self._key_still_valid(user_name, credentials_path):
            self._progress(f"Kept its access key, already in {credentials_path}.")
            return UserSetup(user_name, user["Arn"], created, False, credentials_path)
        key = call_aws(self.iam, "create_access_key", user_name, UserName=user_name)["AccessKey"]
        write_private_json(
            credentials_path,
            {"UserName": user_name, "AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]},
        )
        self._progress(
            f"Wrote a new access key to {credentials_path} (readable by you only): copy it into AWS_ACCESS_KEY "
            "and AWS_SECRET_KEY in .env, then keep the file out of backups or delete it."
        )
        return UserSetup(user_name, user["Arn"], created, True, credentials_path)

    def create_execution_role(self, role_name: str, role_path: Path) -> RoleSetup:
        """Create (or reuse) the role SageMaker assumes, attach its policies once, write its ARN to `role_path`."""
        role, created = self._create_or_get(
            "role",
            role_name,
            RoleName=role_name,
            AssumeRolePolicyDocument=compact_json(execution_role_trust_policy()),
            Description="SageMaker execution role of the LLM Twin (endpoints and training jobs)",
            Tags=[PROJECT_TAG],
        )
        if not created and SAGEMAKER_PRINCIPAL not in unquote(json.dumps(role.get("AssumeRolePolicyDocument", ""))):
            self._progress(f"Warning: role {role_name} does not trust {SAGEMAKER_PRINCIPAL}; SageMaker cannot use it.")
        pages = all_pages(self.iam, "list_attached_role_policies", role_name, RoleName=role_name)
        present = {policy["PolicyArn"] for page in pages for policy in page.get("AttachedPolicies", [])}
        attached = []
        for name in EXECUTION_ROLE_POLICIES:
            arn = f"arn:{self.partition}:iam::aws:policy/{name}"
            if arn in present:
                self._progress(f"Policy {name} is already attached.")
                continue
            call_aws(self.iam, "attach_role_policy", role_name, RoleName=role_name, PolicyArn=arn)
            attached.append(name)
            self._progress(f"Attached policy {name}.")
        write_private_json(role_path, {"RoleName": role_name, "Arn": role["Arn"]}, mode=0o644)
        return RoleSetup(role_name, role["Arn"], created, tuple(attached), role_path)

    def _create_or_get(self, kind: str, name: str, **request: Any) -> tuple[dict[str, Any], bool]:
        """create_user / create_role, or get_user / get_role when IAM says it already exists."""
        try:
            found = call_aws(self.iam, f"create_{kind}", name, **request)
        except AwsResourceError as error:
            if error.aws_error_code != "EntityAlreadyExists":
                raise
            key = "UserName" if kind == "user" else "RoleName"
            found = call_aws(self.iam, f"get_{kind}", name, **{key: name})
            self._progress(f"IAM {kind} {name} already exists: reusing it.")
            return found[kind.capitalize()], False
        self._progress(f"Created IAM {kind} {name}.")
        return found[kind.capitalize()], True

    def _key_still_valid(self, user_name: str, credentials_path: Path) -> bool:
        """Whether `credentials_path` holds an access key that the user still has."""
        try:
            saved = json.loads(credentials_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(saved, dict) or saved.get("UserName") != user_name:
            return False
        pages = all_pages(self.iam, "list_access_keys", user_name, UserName=user_name)
        return saved.get("AccessKeyId") in {key["AccessKeyId"] for page in pages for key in page["AccessKeyMetadata"]}
