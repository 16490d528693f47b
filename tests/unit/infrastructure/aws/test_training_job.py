"""The SageMaker training-job launcher against botocore-stubbed clients: no request ever leaves the process."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import tarfile
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from botocore.stub import ANY, Stubber
from loguru import logger

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.aws.training_job import (
    FINETUNING_SOURCE_DIR,
    SageMakerTrainingLauncher,
    TrainingJobSpec,
    build_create_training_job_request,
    huggingface_training_image_uri,
    package_source,
    training_environment,
    training_job_spec_from_settings,
    training_launcher_from_settings,
    unique_job_name,
)
from llm_engineering.infrastructure.errors import SageMakerJobError
from llm_engineering.settings import load_settings

ROLE = "arn:aws:iam::123456789012:role/twin-sagemaker-execution"
IMAGE_US_EAST_1 = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
    "huggingface-pytorch-training:2.1.0-transformers4.36.0-gpu-py310-cu121-ubuntu20.04"
)
JOB = "twin-ft-2025-01-02-03-04-05-678"
SECRET = "hf_secret_token_value"


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch, tmp_path):
    """Fake keys in the environment and no shared config, so boto3 never looks further (nor at IMDS)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "finetuning"
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "finetune.py").write_text("print('training')\n")
    (folder / "requirements.txt").write_text("trl==0.9.6\n")
    (folder / "recipes").mkdir()
    (folder / "recipes" / "sft.yaml").write_text("learning_rate: 3e-4\n")
    (folder / "__pycache__" / "finetune.cpython-311.pyc").write_bytes(b"\0")
    (folder / ".env").write_text("HUGGINGFACE_ACCESS_TOKEN=never-packed\n")
    return folder


def make_spec(source_dir: Path, **overrides) -> TrainingJobSpec:
    fields = {
        "role_arn": ROLE,
        "output_s3_uri": "s3://twin-bucket/training/",
        "region": "us-east-1",
        "job_name_prefix": "twin-ft",
        "source_dir": source_dir,
        "hyperparameters": {"finetuning_type": "sft", "learning_rate": 3e-4, "num_train_epochs": 3, "is_dummy": True},
        "environment": {"HUGGINGFACE_ACCESS_TOKEN": SECRET, "COMET_PROJECT": "twin"},
    }
    return TrainingJobSpec(**(fields | overrides))


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


@pytest.fixture
def log_messages():
    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(str(message)), format="{level} {message}", level="INFO")
    yield messages
    logger.remove(sink)


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


# --- The request --------------------------------------------------------------------------------------------
def test_the_request_is_the_estimators_contract_in_boto3_shape(source_dir):
    request = build_create_training_job_request(make_spec(source_dir), JOB)
    assert request == {
        "TrainingJobName": JOB,
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": IMAGE_US_EAST_1, "TrainingInputMode": "File"},
        "HyperParameters": {
            "finetuning_type": '"sft"',
            "learning_rate": "0.0003",
            "num_train_epochs": "3",
            "is_dummy": "true",
            "sagemaker_program": '"finetune.py"',
            "sagemaker_submit_directory": f'"s3://twin-bucket/training/{JOB}/source/sourcedir.tar.gz"',
            "sagemaker_container_log_level": "20",
            "sagemaker_job_name": f'"{JOB}"',
            "sagemaker_region": '"us-east-1"',
        },
        "OutputDataConfig": {"S3OutputPath": "s3://twin-bucket/training"},
        "ResourceConfig": {"InstanceType": "ml.g5.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "Environment": {"HUGGINGFACE_ACCESS_TOKEN": SECRET, "COMET_PROJECT": "twin"},
    }
    # The container's toolkit JSON-decodes every value back into the script's arguments.
    assert json.loads(request["HyperParameters"]["learning_rate"]) == 3e-4


def test_defaults_follow_the_book_and_the_project_folder():
    spec = TrainingJobSpec(role_arn=ROLE, output_s3_uri="s3://b/p")
    assert (spec.instance_type, spec.instance_count, spec.entry_point) == ("ml.g5.2xlarge", 1, "finetune.py")
    assert spec.source_dir == FINETUNING_SOURCE_DIR
    assert spec.source_dir.parts[-3:] == ("llm_engineering", "model", "finetuning")
    assert spec.requirements_path == FINETUNING_SOURCE_DIR / "requirements.txt"


def test_image_uri_per_region_or_as_given(source_dir):
    assert huggingface_training_image_uri("us-east-1") == IMAGE_US_EAST_1
    assert huggingface_training_image_uri("eu-central-1").startswith("763104351884.dkr.ecr.eu-central-1.amazonaws.com/")
    assert huggingface_training_image_uri("af-south-1").startswith("626614931356.dkr.ecr.af-south-1.amazonaws.com/")
    assert huggingface_training_image_uri("cn-north-1").startswith("727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/")
    with pytest.raises(ImproperlyConfigured, match="image_uri"):
        huggingface_training_image_uri("xx-nowhere-1")
    own = "111122223333.dkr.ecr.us-east-1.amazonaws.com/twin-train:1"
    request = build_create_training_job_request(make_spec(source_dir, image_uri=own), JOB)
    assert request["AlgorithmSpecification"]["TrainingImage"] == own


def test_unique_job_names_fit_sagemakers_pattern():
    name = unique_job_name("twin-ft", dt.datetime(2025, 1, 2, 3, 4, 5, 678000))
    assert name == JOB
    long = unique_job_name("a-very-long-prefix-" * 5)
    assert len(long) <= 63
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", long)


def test_spec_is_frozen_and_keeps_secrets_out_of_its_repr(source_dir):
    spec = make_spec(source_dir)
    assert SECRET not in repr(spec)
    with pytest.raises(TypeError):
        spec.environment["HF_TOKEN"] = "x"  # type: ignore[index]


# --- The source archive ----------------------------------------------------------------------------------------
def test_the_archive_holds_the_folder_at_its_root_without_caches_or_env_and_is_reproducible(source_dir, tmp_path):
    shared = tmp_path / "prompts.py"
    shared.write_text("TEMPLATE = '{instruction}'\n")
    archive = package_source(source_dir, {"llm_engineering/domain/prompts.py": shared})
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = tar.getnames()
        requirements = tar.extractfile("requirements.txt").read()  # type: ignore[union-attr]
        assert all(member.mtime == 0 and member.uid == 0 for member in tar.getmembers())
    assert names == ["finetune.py", "llm_engineering/domain/prompts.py", "recipes/sft.yaml", "requirements.txt"]
    assert requirements == b"trl==0.9.6\n"
    assert package_source(source_dir, {"llm_engineering/domain/prompts.py": shared}) == archive


def test_requirements_kept_elsewhere_are_packed_as_requirements_txt(source_dir, tmp_path):
    other = tmp_path / "gpu-requirements.txt"
    other.write_text("unsloth\n")
    spec = make_spec(source_dir, requirements_file=other)
    archive = package_source(spec.source_dir, spec.archive_extra_files())
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert tar.extractfile("requirements.txt").read() == b"unsloth\n"  # type: ignore[union-attr]


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


def test_missing_requirements_and_entry_point_are_reported_together(source_dir):
    (source_dir / "requirements.txt").unlink()
    spec = make_spec(source_dir, entry_point="train.py", output_s3_uri="twin-bucket/training")
    with pytest.raises(ImproperlyConfigured) as caught:
        spec.validate()
    message = str(caught.value)
    assert "requirements.txt is missing" in message
    assert "entry point 'train.py' is not in" in message
    assert "is not an s3://bucket[/prefix] URI" in message


def test_bad_parameters_are_refused(source_dir):
    spec = make_spec(
        source_dir,
        hyperparameters={"sagemaker_program": "x.py", "layers": [1, 2]},
        environment={"BAD-NAME": "x"},
        instance_count=0,
        max_runtime_s=0,
        job_name_prefix="twin_ft",
        extra_files={"../escape.py": source_dir / "finetune.py"},
    )
    with pytest.raises(ImproperlyConfigured) as caught:
        spec.validate()
    message = str(caught.value)
    for expected in (
        "'sagemaker_program': names starting with 'sagemaker_' are SageMaker's",
        "'layers' must be a string, number or boolean",
        "environment variable name 'BAD-NAME'",
        "instance_count must be at least 1",
        "max_runtime_s must be within",
        "job_name_prefix='twin_ft'",
        "extra file name '../escape.py'",
    ):
        assert expected in message


def test_an_instance_without_a_gpu_is_allowed_with_a_warning(source_dir, log_messages):
    request = build_create_training_job_request(make_spec(source_dir, instance_type="ml.m5.xlarge"), JOB)
    assert request["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert any(line.startswith("WARNING") and "has no NVIDIA GPU" in line for line in log_messages)
    log_messages.clear()
    build_create_training_job_request(make_spec(source_dir, instance_type="ml.p4d.24xlarge"), JOB)
    assert not any("has no NVIDIA GPU" in line for line in log_messages)


# --- From settings ----------------------------------------------------------------------------------------------
def test_environment_and_spec_come_from_settings(source_dir):
    settings = load_settings(
        AWS_REGION="us-east-1",
        AWS_ARN_ROLE=ROLE,
        HUGGINGFACE_ACCESS_TOKEN=SECRET,
        COMET_API_KEY="comet-key",
        COMET_PROJECT="twin",
    )
    assert training_environment(settings) == {
        "HUGGINGFACE_ACCESS_TOKEN": SECRET,
        "HF_TOKEN": SECRET,
        "COMET_API_KEY": "comet-key",
        "COMET_PROJECT": "twin",
        "COMET_PROJECT_NAME": "twin",
    }
    spec = training_job_spec_from_settings(
        settings,
        output_s3_uri="s3://twin-bucket/training",
        hyperparameters={"finetuning_type": "dpo"},
        source_dir=source_dir,
    )
    assert (spec.role_arn, spec.region, dict(spec.hyperparameters)) == (ROLE, "us-east-1", {"finetuning_type": "dpo"})
    assert spec.environment["HF_TOKEN"] == SECRET
    assert build_create_training_job_request(spec, JOB)["Environment"]["COMET_API_KEY"] == "comet-key"


def test_the_launcher_factory_builds_regional_clients_without_calling_aws():
    settings = load_settings(AWS_REGION="us-east-1", AWS_ACCESS_KEY="AKIAFAKE", AWS_SECRET_KEY="fake-secret")
    launcher = training_launcher_from_settings(settings)
    assert launcher.sagemaker.meta.service_model.service_name == "sagemaker"
    assert launcher.s3.meta.service_model.service_name == "s3"
    assert launcher.sagemaker.meta.region_name == launcher.s3.meta.region_name == "us-east-1"
    with pytest.raises(ImproperlyConfigured, match="go together"):
        training_launcher_from_settings(load_settings(AWS_ACCESS_KEY="AKIAFAKE"))


def test_the_job_archive_holds_every_project_module_finetune_imports(tmp_path):
    import ast
    import gzip
    import io
    import subprocess
    import sys
    import tarfile

    from llm_engineering.infrastructure.aws.training_job import FINETUNING_SOURCE_DIR, finetuning_support_files

    archive = package_source(FINETUNING_SOURCE_DIR, finetuning_support_files())
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(archive))) as tar:
        tar.extractall(tmp_path, filter="data")
    assert (tmp_path / "finetune.py").is_file() and (tmp_path / "training.yaml").is_file()
    assert (tmp_path / "requirements.txt").is_file()

    def project_imports(path):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("llm_engineering"):
                yield node.module
            elif isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names if alias.name.startswith("llm_engineering"))

    # finetune.py imports the finetuning package as llm_engineering.model.finetuning.*: every project module
    # reachable from the packed files must be packed too.
    packed = [tmp_path / "finetune.py", *(tmp_path / "llm_engineering").rglob("*.py")]
    missing = set()
    for path in packed:
        for module in project_imports(path):
            relative = module.replace(".", "/")
            if not ((tmp_path / f"{relative}.py").is_file() or (tmp_path / relative / "__init__.py").is_file()):
                missing.add(f"{module} (imported by {path.relative_to(tmp_path)})")
    assert not missing

    result = subprocess.run(
        [sys.executable, "finetune.py", "--help"], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "--preference" in result.stdout
