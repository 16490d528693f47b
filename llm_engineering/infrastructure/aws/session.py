"""boto3 sessions for the AWS adapters, from a region and optional keys; nothing here calls AWS.

AWS_ACCESS_KEY / AWS_SECRET_KEY sign the calls when both are set; otherwise boto3's own chain decides
(environment, shared config and profiles, an instance or task role).
"""

from __future__ import annotations

from typing import Any

from llm_engineering.domain.exceptions import ImproperlyConfigured


def aws_session(region: str, access_key: str | None = None, secret_key: str | None = None) -> Any:
    """A boto3 Session for `region`, signed with the keys when both are given. Connects to nothing."""
    import boto3

    if bool(access_key) != bool(secret_key):
        raise ImproperlyConfigured("AWS_ACCESS_KEY and AWS_SECRET_KEY go together: set both or neither.")
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region)
    except BotoCoreError as error:  # e.g. AWS_PROFILE names a profile that does not exist
        raise ImproperlyConfigured(f"The AWS configuration cannot be used: {error}") from error


def has_credentials(session: Any) -> bool:
    """Whether the session can sign requests (settings, environment, profile or instance role)."""
    from botocore.exceptions import BotoCoreError

    try:
        return session.get_credentials() is not None
    except BotoCoreError as error:  # a broken profile or credential process
        raise ImproperlyConfigured(f"The AWS credentials cannot be read: {error}") from error


def client_config() -> Any:
    """Retries with backoff for throttling: deployments make bursts of control-plane calls."""
    from botocore.config import Config

    return Config(retries={"max_attempts": 5, "mode": "standard"})


def aws_partition(region: str) -> str:
    """The ARN partition of a region: aws, aws-cn (China) or aws-us-gov (GovCloud)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
