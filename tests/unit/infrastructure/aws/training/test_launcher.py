"""The SageMaker training-job launcher against botocore-stubbed clients: no request ever leaves the process."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from botocore.stub import ANY, Stubber

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.aws.training.launcher import SageMakerTrainingLauncher
from llm_engineering.infrastructure.aws.training.source import package_source
from llm_engineering.infrastructure.aws.training.spec import TrainingJobSpec, build_create_training_job_request
from llm_engineering.infrastructure.errors import SageMakerJobError
from tests.unit.infrastructure.aws.training.conftest import JOB, ROLE, SECRET, make_spec


@pytest.fixture
def clients():
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(sagemaker) as sagemaker_stub, Stubber(s3) as s3_stub:
        yield sagemaker, sagemaker_stub, s3, s3_stub
        sagemaker_stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def launcher_parts(clients):
    sagemaker, sagemaker_stub, s3, s3_stub = clients
    clock = FakeClock()
    launcher = SageMakerTrainingLauncher(sagemaker, s3, sleep=clock.sleep, clock=clock)
    return launcher, sagemaker_stub, s3_stub, clock


def describe(status: str, secondary: str, **extra) -> dict:
    response = {
        "TrainingJobName": JOB,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB}",
        "ModelArtifacts": {"S3ModelArtifacts": ""},
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary,
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    }
    return response | extra


def expect_launch(spec: TrainingJobSpec, sagemaker_stub: Stubber, s3_stub: Stubber) -> None:
    s3_stub.add_response(
        "put_object",
        {"ETag": '"etag"'},
        {"Bucket": "twin-bucket", "Key": f"training/{JOB}/source/sourcedir.tar.gz", "Body": ANY},
    )
    sagemaker_stub.add_response(
        "create_training_job",
        {"TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB}"},
        build_create_training_job_request(spec, JOB),
    )


# --- Launching and following a job ----------------------------------------------------------------------------
def test_launch_uploads_the_archive_then_creates_the_job(source_dir, launcher_parts, log_messages):
    launcher, sagemaker_stub, s3_stub, _ = launcher_parts
    spec = make_spec(source_dir)
    s3_stub.add_response(
        "put_object",
        {"ETag": '"etag"'},
        {
            "Bucket": "twin-bucket",
            "Key": f"training/{JOB}/source/sourcedir.tar.gz",
            "Body": package_source(source_dir),  # the archive is reproducible, so the exact bytes are expected
        },
    )
    sagemaker_stub.add_response(
        "create_training_job",
        {"TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB}"},
        build_create_training_job_request(spec, JOB),
    )
    result = launcher.launch(spec, job_name=JOB)
    assert (result.name, result.status, result.model_artifacts_s3, result.failure_reason) == (
        JOB,
        "InProgress",
        None,
        None,
    )
    logged = "\n".join(log_messages)
    assert JOB in logged and "ml.g5.2xlarge" in logged
    assert SECRET not in logged


def test_wait_polls_to_completed_and_logs_each_transition(source_dir, launcher_parts, log_messages):
    launcher, sagemaker_stub, s3_stub, clock = launcher_parts
    spec = make_spec(source_dir)
    expect_launch(spec, sagemaker_stub, s3_stub)
    artifacts = f"s3://twin-bucket/training/{JOB}/output/model.tar.gz"
    for response in (
        describe("InProgress", "Starting"),
        describe("InProgress", "Training"),
        describe("InProgress", "Training"),
        describe(
            "Completed",
            "Completed",
            ModelArtifacts={"S3ModelArtifacts": artifacts},
            BillableTimeInSeconds=1234,
            SecondaryStatusTransitions=[
                {
                    "Status": "Completed",
                    "StartTime": dt.datetime(2025, 1, 2, tzinfo=dt.UTC),
                    "StatusMessage": "Training job completed",
                }
            ],
        ),
    ):
        sagemaker_stub.add_response("describe_training_job", response, {"TrainingJobName": JOB})

    result = launcher.launch(spec, wait=True, poll_s=30, job_name=JOB)

    assert result.succeeded
    assert (result.model_artifacts_s3, result.billable_seconds, result.seconds) == (artifacts, 1234, 90.0)
    transitions = [line for line in log_messages if f"training job {JOB}: " in line]
    assert len(transitions) == 3  # the repeated InProgress/Training is not logged twice
    assert "Completed / Completed (Training job completed)" in transitions[-1]
    assert SECRET not in "\n".join(log_messages)
    assert clock.now == 1090.0


def test_a_failed_job_raises_with_sagemakers_failure_reason(source_dir, launcher_parts):
    launcher, sagemaker_stub, s3_stub, _ = launcher_parts
    spec = make_spec(source_dir)
    expect_launch(spec, sagemaker_stub, s3_stub)
    reason = "AlgorithmError: ExecuteUserScriptError: CUDA out of memory"
    sagemaker_stub.add_response("describe_training_job", describe("InProgress", "Training"))
    sagemaker_stub.add_response("describe_training_job", describe("Failed", "Failed", FailureReason=reason))
    with pytest.raises(SageMakerJobError, match="failed: AlgorithmError: ExecuteUserScriptError") as caught:
        launcher.launch(spec, wait=True, poll_s=0, job_name=JOB)
    assert (caught.value.job_name, caught.value.status, caught.value.failure_reason) == (JOB, "Failed", reason)


def test_a_stopped_job_raises_naming_why(launcher_parts):
    launcher, sagemaker_stub, _, _ = launcher_parts
    sagemaker_stub.add_response("describe_training_job", describe("Stopped", "MaxRuntimeExceeded"))
    with pytest.raises(SageMakerJobError, match=r"was stopped \(MaxRuntimeExceeded\)") as caught:
        launcher.wait(JOB, poll_s=0)
    assert caught.value.status == "Stopped"


def test_throttled_polls_are_retried_and_other_errors_are_not(launcher_parts):
    launcher, sagemaker_stub, _, _ = launcher_parts
    sagemaker_stub.add_client_error("describe_training_job", "ThrottlingException", "Rate exceeded", 400)
    sagemaker_stub.add_response("describe_training_job", describe("Completed", "Completed"))
    assert launcher.wait(JOB, poll_s=0).status == "Completed"

    sagemaker_stub.add_client_error("describe_training_job", "ValidationException", "Requested resource not found.")
    with pytest.raises(SageMakerJobError, match="ValidationException: Requested resource not found"):
        launcher.wait(JOB, poll_s=0)


def test_waiting_past_the_timeout_raises_and_says_the_job_keeps_running(launcher_parts):
    launcher, sagemaker_stub, _, _ = launcher_parts
    for _ in range(3):
        sagemaker_stub.add_response("describe_training_job", describe("InProgress", "Training"))
    with pytest.raises(SageMakerJobError, match="still InProgress after 60 s; it keeps running"):
        launcher.wait(JOB, poll_s=30, timeout_s=60)


# --- AWS refusals become our errors ----------------------------------------------------------------------------
def test_a_quota_refusal_becomes_a_sagemaker_job_error_with_the_fix(source_dir, launcher_parts):
    launcher, sagemaker_stub, s3_stub, _ = launcher_parts
    s3_stub.add_response("put_object", {"ETag": '"etag"'})
    sagemaker_stub.add_client_error(
        "create_training_job",
        "ResourceLimitExceeded",
        "The account-level service limit 'ml.g5.2xlarge for training job usage' is 0 Instances",
    )
    with pytest.raises(SageMakerJobError, match=r"ResourceLimitExceeded.*Service Quotas") as caught:
        launcher.launch(make_spec(source_dir), job_name=JOB)
    assert caught.value.aws_error_code == "ResourceLimitExceeded"
    assert caught.value.job_name == JOB


def test_a_role_refusal_points_at_aws_arn_role(source_dir, launcher_parts):
    launcher, sagemaker_stub, s3_stub, _ = launcher_parts
    s3_stub.add_response("put_object", {"ETag": '"etag"'})
    sagemaker_stub.add_client_error(
        "create_training_job", "ValidationException", f"Could not assume role {ROLE}. Please ensure ..."
    )
    with pytest.raises(SageMakerJobError, match="check AWS_ARN_ROLE"):
        launcher.launch(make_spec(source_dir), job_name=JOB)


def test_a_missing_bucket_stops_the_launch_before_the_job_is_created(source_dir, launcher_parts):
    launcher, _, s3_stub, _ = launcher_parts
    s3_stub.add_client_error("put_object", "NoSuchBucket", "The specified bucket does not exist", 404)
    with pytest.raises(SageMakerJobError, match=r"put_object.*NoSuchBucket.*does not exist"):
        launcher.launch(make_spec(source_dir), job_name=JOB)


def test_missing_credentials_become_improperly_configured(source_dir):
    class NoCredentialsS3:
        def put_object(self, **_):
            raise NoCredentialsError()

    launcher = SageMakerTrainingLauncher(sagemaker_client=None, s3_client=NoCredentialsS3())
    with pytest.raises(ImproperlyConfigured, match="AWS_ACCESS_KEY and AWS_SECRET_KEY"):
        launcher.launch(make_spec(source_dir), job_name=JOB)


# --- Validation before any call --------------------------------------------------------------------------------
def test_no_role_fails_early_naming_the_setting(source_dir, launcher_parts):
    launcher, *_ = launcher_parts  # stubbed clients with no responses: any call would fail the test
    with pytest.raises(ImproperlyConfigured, match="no SageMaker execution role: set AWS_ARN_ROLE"):
        launcher.launch(make_spec(source_dir, role_arn=None))
    with pytest.raises(ImproperlyConfigured, match="is not an IAM role ARN"):
        build_create_training_job_request(make_spec(source_dir, role_arn="twin-role"))
