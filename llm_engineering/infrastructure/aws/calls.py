"""One boto3 call with botocore's errors translated, "not found" told apart, and secrets masked for display.

The IAM and SageMaker deployment adapters make every AWS call through `call_aws`, so callers only see
`ImproperlyConfigured` (no or bad credentials) and `AwsResourceError` (AWS refused or failed the call).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.errors import AwsResourceError

PROJECT_TAG = {"Key": "project", "Value": "llm-twin"}
MASK = "***"
# Key names whose values are secrets: HF_TOKEN, HUGGING_FACE_HUB_TOKEN, SecretAccessKey... (not MAX_TOTAL_TOKENS).
_SECRET_NAME = re.compile(r"(token|secret|password|api_?key|secret_?(access_?)?key)$", re.IGNORECASE)
_NOT_FOUND_CODES = frozenset(
    {"NoSuchEntity", "ObjectNotFoundException", "ResourceNotFound", "ResourceNotFoundException"}
)
# SageMaker's describe_* answer a missing resource with a ValidationException worded like this.
_NOT_FOUND_WORDS = re.compile(r"could not find|does not exist|not found", re.IGNORECASE)

_HINTS = {
    "AccessDenied": "the AWS user lacks permission for this call (`poe create-sagemaker-role` creates one that may).",
    "AccessDeniedException": "the AWS user lacks permission for this call "
    "(`poe create-sagemaker-role` creates one that may).",
    "UnrecognizedClientException": "AWS_ACCESS_KEY is not a valid access key.",
    "InvalidClientTokenId": "AWS_ACCESS_KEY is not a valid access key.",
    "SignatureDoesNotMatch": "AWS_SECRET_KEY does not match AWS_ACCESS_KEY.",
    "ExpiredTokenException": "the AWS session credentials have expired.",
    "ResourceLimitExceeded": "the account's SageMaker quota is too low: ask for an increase in Service Quotas "
    "(SageMaker, '<instance type> for endpoint usage'), or choose another GPU_INSTANCE_TYPE.",
    "LimitExceeded": "an IAM limit was reached (an IAM user holds at most two access keys: delete one it no "
    "longer uses with `aws iam delete-access-key`).",
    "ResourceInUse": "another operation on this resource is still running: wait until it ends.",
}


def is_not_found(error: Any) -> bool:
    """Whether a botocore ClientError says the resource does not exist."""
    details = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    if code in _NOT_FOUND_CODES:
        return True
    return code == "ValidationException" and bool(_NOT_FOUND_WORDS.search(str(details.get("Message", ""))))


def error_code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def call_aws(client: Any, operation: str, resource: str, *, missing_ok: bool = False, **params: Any) -> Any:
    """`client.<operation>(**params)`; with `missing_ok`, a "does not exist" answer returns None.

    Raises ImproperlyConfigured without usable credentials, AwsResourceError when AWS refuses the call or
    cannot be reached (with a hint for the usual causes).
    """
    return _translated(lambda: getattr(client, operation)(**params), operation, resource, missing_ok=missing_ok)


def all_pages(client: Any, operation: str, resource: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a paginated list call, errors translated as in `call_aws`."""
    return _translated(lambda: list(client.get_paginator(operation).paginate(**params)), operation, resource)


def _translated(call: Callable[[], Any], operation: str, resource: str, *, missing_ok: bool = False) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

    try:
        return call()
    except (NoCredentialsError, PartialCredentialsError) as error:
        raise ImproperlyConfigured(
            f"No AWS credentials for {operation}: set AWS_ACCESS_KEY and AWS_SECRET_KEY "
            f"(or an AWS profile or instance role). {error}"
        ) from error
    except ClientError as error:
        if missing_ok and is_not_found(error):
            return None
        raise translate_client_error(error, operation, resource) from error
    except BotoCoreError as error:
        raise AwsResourceError(
            f"{operation} for {resource} could not reach AWS: {error}", operation=operation, resource=resource
        ) from error


def translate_client_error(error: Any, operation: str, resource: str) -> AwsResourceError:
    details = error.response.get("Error", {})
    code = error_code(error)
    message = str(details.get("Message", error))
    hint = _HINTS.get(code)
    if hint is None and code == "ValidationException" and "role" in message.lower():
        hint = "check AWS_ARN_ROLE: the role must exist and trust sagemaker.amazonaws.com."
    text = f"{operation} for {resource} was refused: {code}: {message}"
    return AwsResourceError(
        f"{text} ({hint})" if hint else text, operation=operation, resource=resource, aws_error_code=code
    )


def masked(value: Any) -> Any:
    """A copy of request parameters with the values of secret-looking keys (tokens, keys) replaced by ***."""
    if isinstance(value, Mapping):
        return {
            key: MASK if isinstance(item, str) and _SECRET_NAME.search(str(key)) else masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [masked(item) for item in value]
    return value


def shown(params: Mapping[str, Any]) -> str:
    """Request parameters as one line of JSON, secrets masked."""
    return json.dumps(masked(params), default=str)
