"""Runs a `TrainingJobSpec` on SageMaker: uploads the source archive to S3, creates the training job and, if
asked, polls it to Completed, Failed or Stopped. AWS refusals come out as `SageMakerJobError` (with the fix
when one is known) and missing credentials as `ImproperlyConfigured`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from loguru import logger

from llm_engineering.domain.exceptions import ImproperlyConfigured, LLMTwinError
from llm_engineering.infrastructure.aws.training.source import package_source
from llm_engineering.infrastructure.aws.training.spec import (
    TrainingJobSpec,
    build_create_training_job_request,
    source_s3_uri,
)
from llm_engineering.infrastructure.errors import SageMakerJobError

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
_TRANSIENT_CODES = frozenset({"ThrottlingException", "Throttling", "ServiceUnavailable", "InternalFailure"})
_MAX_TRANSIENT_POLL_ERRORS = 5


@dataclass(frozen=True)
class TrainingJobResult:
    """Where a job stands. `seconds`: wall-clock time this launcher spent on it (upload, create, wait)."""

    name: str
    status: str
    model_artifacts_s3: str | None
    failure_reason: str | None
    seconds: float
    secondary_status: str | None = None
    billable_seconds: int | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "Completed"


class SageMakerTrainingLauncher:
    """Uploads the source, creates the training job and, if asked, follows it to its end.

    `sagemaker_client` and `s3_client` are boto3 clients (`sagemaker`, `s3`); `sleep` and `clock` are
    injectable so tests poll without waiting.
    """

    def __init__(
        self,
        sagemaker_client: Any,
        s3_client: Any,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.sagemaker = sagemaker_client
        self.s3 = s3_client
        self._sleep = sleep
        self._clock = clock

    def launch(
        self,
        spec: TrainingJobSpec,
        wait: bool = False,
        poll_s: float = 30,
        *,
        job_name: str | None = None,
        timeout_s: float | None = None,
    ) -> TrainingJobResult:
        """Start `spec` as a training job; with `wait`, poll until it is Completed, Failed or Stopped.

        Returns the job's state (InProgress without `wait`). Raises ImproperlyConfigured for a bad spec
        or missing AWS credentials, and SageMakerJobError when AWS refuses a call, when the job fails or
        is stopped (SageMaker's failure reason in the message), or when `timeout_s` passes first.
        """
        started = self._clock()
        request = build_create_training_job_request(spec, job_name)
        name = request["TrainingJobName"]
        archive = package_source(spec.source_dir, spec.archive_extra_files())
        self._upload(archive, source_s3_uri(spec, name), name)
        logger.info(
            "Starting SageMaker training job {} ({} x{}, image {}, entry point {}, hyperparameters {}, env keys {})",
            name,
            spec.instance_type,
            spec.instance_count,
            spec.training_image,
            spec.entry_point,
            dict(spec.hyperparameters),
            sorted(spec.environment),
        )
        self._call("create_training_job", name, **request)
        if not wait:
            return TrainingJobResult(name, "InProgress", None, None, self._clock() - started)
        return self.wait(name, poll_s, timeout_s=timeout_s, started=started)

    def describe(self, job_name: str, started: float | None = None) -> TrainingJobResult:
        """The job's current state from DescribeTrainingJob (`seconds` counts from `started`, else 0)."""
        response = self._call("describe_training_job", job_name, TrainingJobName=job_name)
        return self._result(response, started)

    def wait(
        self, job_name: str, poll_s: float = 30, *, timeout_s: float | None = None, started: float | None = None
    ) -> TrainingJobResult:
        """Poll until the job ends, logging each status change; return it Completed, else raise.

        Without `timeout_s` the job's own MaxRuntimeInSeconds bounds the wait (SageMaker stops it).
        Throttling and transient service errors are retried on the next poll, up to 5 in a row.
        """
        started = self._clock() if started is None else started
        last_seen: tuple[str, str | None] | None = None
        transient_errors = 0
        while True:
            try:
                response = self._call("describe_training_job", job_name, TrainingJobName=job_name)
                transient_errors = 0
            except SageMakerJobError as error:
                if error.aws_error_code not in _TRANSIENT_CODES or transient_errors >= _MAX_TRANSIENT_POLL_ERRORS:
                    raise
                transient_errors += 1
                logger.warning("Polling {} failed ({}); trying again in {} s", job_name, error.aws_error_code, poll_s)
                self._sleep(poll_s)
                continue
            result = self._result(response, started)
            seen = (result.status, result.secondary_status)
            if seen != last_seen:
                last_seen = seen
                logger.info(
                    "SageMaker training job {}: {} / {}{}",
                    job_name,
                    result.status,
                    result.secondary_status,
                    _status_message(response),
                )
            if result.status in TERMINAL_STATUSES:
                return self._finish(result)
            if timeout_s is not None and self._clock() - started >= timeout_s:
                raise SageMakerJobError(
                    f"SageMaker training job {job_name} is still {result.status} after {timeout_s:.0f} s; "
                    "it keeps running (stop it in the console or with stop_training_job).",
                    job_name=job_name,
                    status=result.status,
                )
            self._sleep(poll_s)

    def _finish(self, result: TrainingJobResult) -> TrainingJobResult:
        if result.succeeded:
            logger.info(
                "SageMaker training job {} completed in {:.0f} s (billable {} s); model at {}",
                result.name,
                result.seconds,
                result.billable_seconds,
                result.model_artifacts_s3,
            )
            return result
        verb = "failed" if result.status == "Failed" else f"was stopped ({result.secondary_status})"
        reason = result.failure_reason or "SageMaker gave no reason"
        raise SageMakerJobError(
            f"SageMaker training job {result.name} {verb}: {reason}. The container logs are in CloudWatch "
            f"(/aws/sagemaker/TrainingJobs, stream {result.name}/algo-1-...).",
            job_name=result.name,
            status=result.status,
            failure_reason=result.failure_reason,
        )

    def _result(self, response: Mapping[str, Any], started: float | None) -> TrainingJobResult:
        elapsed = self._clock() - started if started is not None else 0.0
        return TrainingJobResult(
            name=response["TrainingJobName"],
            status=response["TrainingJobStatus"],
            model_artifacts_s3=(response.get("ModelArtifacts") or {}).get("S3ModelArtifacts") or None,
            failure_reason=response.get("FailureReason"),
            seconds=elapsed,
            secondary_status=response.get("SecondaryStatus"),
            billable_seconds=response.get("BillableTimeInSeconds"),
        )

    def _upload(self, archive: bytes, uri: str, job_name: str) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        logger.info("Uploading the training source ({} KiB) to {}", max(1, len(archive) // 1024), uri)
        self._call("put_object", job_name, client=self.s3, Bucket=bucket, Key=key, Body=archive)

    def _call(self, operation: str, job_name: str, client: Any = None, **arguments: Any) -> Any:
        """Call a boto3 operation; botocore errors come out as ImproperlyConfigured or SageMakerJobError."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

        try:
            return getattr(client or self.sagemaker, operation)(**arguments)
        except (NoCredentialsError, PartialCredentialsError) as error:
            raise ImproperlyConfigured(
                f"No AWS credentials for {operation}: set AWS_ACCESS_KEY and AWS_SECRET_KEY "
                f"(or an AWS profile or instance role). {error}"
            ) from error
        except ClientError as error:
            raise _translate_client_error(error, operation, job_name) from error
        except BotoCoreError as error:
            raise SageMakerJobError(
                f"{operation} for {job_name} could not reach AWS: {error}", job_name=job_name
            ) from error


def _status_message(response: Mapping[str, Any]) -> str:
    transitions = response.get("SecondaryStatusTransitions") or []
    message = transitions[-1].get("StatusMessage") if transitions else None
    return f" ({message})" if message else ""


_HINTS = {
    "AccessDenied": "the AWS user lacks permission for this call, or the bucket policy refuses it.",
    "AccessDeniedException": "the AWS user lacks SageMaker permissions (e.g. AmazonSageMakerFullAccess).",
    "UnrecognizedClientException": "AWS_ACCESS_KEY is not a valid access key.",
    "InvalidClientTokenId": "AWS_ACCESS_KEY is not a valid access key.",
    "InvalidAccessKeyId": "AWS_ACCESS_KEY is not a valid access key.",
    "SignatureDoesNotMatch": "AWS_SECRET_KEY does not match AWS_ACCESS_KEY.",
    "ExpiredTokenException": "the AWS session credentials have expired.",
    "ResourceLimitExceeded": "the account's quota for this instance type in training jobs is too low: "
    "ask for an increase in Service Quotas (SageMaker, '<instance type> for training job usage').",
    "ResourceInUse": "a training job with this name already exists: use another name or prefix.",
    "NoSuchBucket": "the bucket of output_s3_uri does not exist in this account and region.",
}


def _translate_client_error(error: Any, operation: str, job_name: str) -> LLMTwinError:
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    message = str(details.get("Message", error))
    hint = _HINTS.get(code)
    if hint is None and code == "ValidationException" and "role" in message.lower():
        hint = "check AWS_ARN_ROLE: the role must exist and trust sagemaker.amazonaws.com."
    text = f"{operation} for SageMaker training job {job_name} was refused: {code}: {message}"
    return SageMakerJobError(f"{text} ({hint})" if hint else text, job_name=job_name, aws_error_code=code)
