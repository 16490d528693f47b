"""SageMaker training jobs that run the fine-tuning entry point on a GPU instance, over plain boto3.

The book starts `model/finetuning/finetune.py` with the v2 SDK's HuggingFace estimator. SDK v3 removed
the estimators (its `ModelTrainer` mounts the code as a `code` input channel and runs its own driver
scripts), and the `sagemaker` package is an optional extra. This adapter needs neither: it speaks the
contract the Hugging Face training images (the SageMaker training toolkit inside them) keep honouring.
The source folder goes to S3 as a tar.gz named by the `sagemaker_submit_directory` hyperparameter and
the script by `sagemaker_program`. In the container the toolkit unpacks it into /opt/ml/code, runs
`pip install -r requirements.txt`, then the script with every other hyperparameter as `--name value`.
Hyperparameter values travel JSON-encoded, as the estimator sent them; the toolkit decodes them.

boto3 clients are injected (`training_launcher_from_settings` builds them), so tests use botocore's
Stubber and never reach AWS. Library errors come out as `SageMakerJobError` or `ImproperlyConfigured`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import re
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_engineering.domain.exceptions import ImproperlyConfigured, LLMTwinError
from llm_engineering.infrastructure.errors import SageMakerJobError

if TYPE_CHECKING:
    from llm_engineering.settings import Settings

FINETUNING_SOURCE_DIR = Path(__file__).resolve().parents[2] / "model" / "finetuning"
DEFAULT_ENTRY_POINT = "finetune.py"
REQUIREMENTS_FILE = "requirements.txt"
SOURCE_ARCHIVE_NAME = "sourcedir.tar.gz"
MAX_SOURCE_ARCHIVE_BYTES = 100 * 1024 * 1024

# The book's training image: transformers 4.36, PyTorch 2.1, Python 3.10, CUDA 12.1; requirements.txt
# is layered on top of it at start-up.
HF_TRAINING_REPOSITORY = "huggingface-pytorch-training"
HF_TRAINING_IMAGE_TAG = "2.1.0-transformers4.36.0-gpu-py310-cu121-ubuntu20.04"
# Deep Learning Container registries per region (the sagemaker SDK's image_uri_config/huggingface.json).
# fmt: off
_DLC_MAIN_REGIONS = (
    "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1",
    "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
)
# fmt: on
_DLC_ACCOUNTS = {
    **dict.fromkeys(_DLC_MAIN_REGIONS, "763104351884"),
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-northeast-3": "364406365360",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "eu-south-1": "692866216735",
    "me-south-1": "217643126080",
    "us-gov-west-1": "442386744353",
}

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
_RESERVED_PREFIX = "sagemaker_"
_RESERVED_COUNT = 5  # sagemaker_program, _submit_directory, _container_log_level, _job_name, _region
_JOB_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
_ROLE_ARN_PATTERN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-/]+")
_ENV_NAME_PATTERN = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_S3_URI_PATTERN = re.compile(r"s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(/.*)?")
_GPU_INSTANCE_PATTERN = re.compile(r"ml\.[pg]\d")  # p3/p4d/p5/g4dn/g5/g6...: NVIDIA GPUs
_TIMESTAMP_LENGTH = len("-2024-01-31-23-59-59-999")
_MAX_RUNTIME_S = 28 * 24 * 3600  # SageMaker's ceiling for MaxRuntimeInSeconds
_TRANSIENT_CODES = frozenset({"ThrottlingException", "Throttling", "ServiceUnavailable", "InternalFailure"})
_MAX_TRANSIENT_POLL_ERRORS = 5
_SKIPPED_NAMES = frozenset({"__pycache__", ".git", ".ipynb_checkpoints", ".DS_Store", ".pytest_cache", ".env"})

HyperparameterValue = str | int | float | bool


def huggingface_training_image_uri(region: str, tag: str = HF_TRAINING_IMAGE_TAG) -> str:
    """The Hugging Face PyTorch training image (GPU) for `region`; ImproperlyConfigured for unknown regions."""
    account = _DLC_ACCOUNTS.get(region)
    if account is None:
        raise ImproperlyConfigured(
            f"No known Hugging Face training image registry for AWS_REGION={region!r}: "
            "give TrainingJobSpec.image_uri explicitly."
        )
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}/{HF_TRAINING_REPOSITORY}:{tag}"


def unique_job_name(prefix: str, now: dt.datetime | None = None) -> str:
    """`prefix-YYYY-mm-dd-HH-MM-SS-mmm` (UTC), the prefix cut so the name fits SageMaker's 63 characters."""
    moment = now or dt.datetime.now(dt.UTC)
    stamp = moment.strftime("%Y-%m-%d-%H-%M-%S-%f")[:-3]
    head = prefix[: 63 - _TIMESTAMP_LENGTH].rstrip("-")
    return f"{head}-{stamp}"


@dataclass(frozen=True)
class TrainingJobSpec:
    """Everything one training job needs; `validate()` checks it before anything reaches AWS.

    `hyperparameters` become the entry script's `--name value` arguments. `environment` holds secrets
    (Hugging Face and Comet keys): it is sent as the job's Environment and never logged nor shown in
    `repr`. Note that anyone allowed to call DescribeTrainingJob can read it.
    `requirements_file` defaults to `source_dir/requirements.txt`; another file is packed under that name.
    `extra_files` maps a path inside the archive to a local file (for example a shared module).
    """

    role_arn: str | None
    output_s3_uri: str
    region: str = "eu-central-1"
    job_name_prefix: str = "twin-finetuning"
    instance_type: str = "ml.g5.2xlarge"
    instance_count: int = 1
    volume_size_gb: int = 50
    max_runtime_s: int = 24 * 3600
    image_uri: str | None = None
    source_dir: Path = FINETUNING_SOURCE_DIR
    entry_point: str = DEFAULT_ENTRY_POINT
    requirements_file: Path | None = None
    hyperparameters: Mapping[str, HyperparameterValue] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict, repr=False)
    extra_files: Mapping[str, Path] = field(default_factory=dict)
    container_log_level: int = 20  # logging.INFO, what the estimator sent

    def __post_init__(self) -> None:
        # Frozen all the way down: the mappings are copied into read-only views.
        object.__setattr__(self, "source_dir", Path(self.source_dir))
        if self.requirements_file is not None:
            object.__setattr__(self, "requirements_file", Path(self.requirements_file))
        object.__setattr__(self, "hyperparameters", MappingProxyType(dict(self.hyperparameters)))
        object.__setattr__(self, "environment", MappingProxyType(dict(self.environment)))
        extra = {name: Path(path) for name, path in self.extra_files.items()}
        object.__setattr__(self, "extra_files", MappingProxyType(extra))

    @property
    def training_image(self) -> str:
        return self.image_uri or huggingface_training_image_uri(self.region)

    @property
    def requirements_path(self) -> Path:
        return self.requirements_file or self.source_dir / REQUIREMENTS_FILE

    @property
    def has_gpu(self) -> bool:
        return bool(_GPU_INSTANCE_PATTERN.match(self.instance_type))

    def archive_extra_files(self) -> dict[str, Path]:
        """Files packed beside the source folder: `extra_files`, plus the requirements when kept elsewhere."""
        extra = dict(self.extra_files)
        if self.requirements_path.resolve() != (self.source_dir / REQUIREMENTS_FILE).resolve():
            extra[REQUIREMENTS_FILE] = self.requirements_path
        return extra

    def validate(self) -> None:
        """Raise ImproperlyConfigured listing every problem; warn (loguru) about an instance without a GPU."""
        problems = [*self._aws_problems(), *self._source_problems(), *self._parameter_problems()]
        if problems:
            raise ImproperlyConfigured(
                "Cannot start the SageMaker training job:\n" + "\n".join(f"  - {problem}" for problem in problems)
            )
        if not self.has_gpu:
            logger.warning(
                "Instance type {} has no NVIDIA GPU: the Hugging Face training image is a CUDA image and "
                "fine-tuning an LLM there will fail or crawl. The book uses ml.g5.2xlarge (1x A10G 24 GB).",
                self.instance_type,
            )

    def _aws_problems(self) -> list[str]:
        problems = []
        if not self.role_arn:
            problems.append(
                "no SageMaker execution role: set AWS_ARN_ROLE to the ARN of an IAM role SageMaker can assume "
                "(arn:aws:iam::<account-id>:role/<name>)."
            )
        elif not _ROLE_ARN_PATTERN.fullmatch(self.role_arn):
            problems.append(
                f"AWS_ARN_ROLE={self.role_arn!r} is not an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)."
            )
        if not _S3_URI_PATTERN.fullmatch(self.output_s3_uri or ""):
            problems.append(f"output_s3_uri={self.output_s3_uri!r} is not an s3://bucket[/prefix] URI.")
        if not self.instance_type.startswith("ml."):
            problems.append(f"instance_type={self.instance_type!r} is not a SageMaker instance type (ml.*).")
        if self.instance_count < 1:
            problems.append(f"instance_count must be at least 1, got {self.instance_count}.")
        if self.volume_size_gb < 1:
            problems.append(f"volume_size_gb must be at least 1, got {self.volume_size_gb}.")
        if not 1 <= self.max_runtime_s <= _MAX_RUNTIME_S:
            problems.append(f"max_runtime_s must be within 1..{_MAX_RUNTIME_S} (28 days), got {self.max_runtime_s}.")
        if not _JOB_NAME_PATTERN.fullmatch(self.job_name_prefix):
            problems.append(
                f"job_name_prefix={self.job_name_prefix!r} may hold letters, digits and inner hyphens only."
            )
        return problems

    def _source_problems(self) -> list[str]:
        if not self.source_dir.is_dir():
            return [f"source_dir {self.source_dir} is not a folder."]
        problems = []
        if not (self.source_dir / self.entry_point).is_file():
            problems.append(f"entry point {self.entry_point!r} is not in {self.source_dir}.")
        if not self.requirements_path.is_file():
            problems.append(
                f"{self.requirements_path} is missing: the job installs the training dependencies "
                "(TRL, PEFT, Unsloth, ...) from it on top of the image."
            )
        for name, path in self.extra_files.items():
            if not _safe_archive_name(name):
                problems.append(f"extra file name {name!r} must be a relative path inside the archive.")
            elif not path.is_file():
                problems.append(f"extra file {path} (for {name!r}) does not exist.")
        return problems

    def _parameter_problems(self) -> list[str]:
        problems = []
        for name, value in self.hyperparameters.items():
            if name.startswith(_RESERVED_PREFIX):
                problems.append(f"hyperparameter {name!r}: names starting with {_RESERVED_PREFIX!r} are SageMaker's.")
            elif not isinstance(value, str | int | float | bool):
                problems.append(
                    f"hyperparameter {name!r} must be a string, number or boolean, got {type(value).__name__}."
                )
            elif len(json.dumps(value)) > 2500:
                problems.append(f"hyperparameter {name!r} is longer than SageMaker's 2500 characters.")
        if len(self.hyperparameters) + _RESERVED_COUNT > 100:
            problems.append("more than 100 hyperparameters (SageMaker's limit, 5 of them reserved).")
        for name, value in self.environment.items():
            if not _ENV_NAME_PATTERN.fullmatch(name):
                problems.append(f"environment variable name {name!r} is not valid.")
            elif not isinstance(value, str):
                problems.append(f"environment variable {name} must be a string.")  # the value is a secret: not shown
        if len(self.environment) > 100:
            problems.append("more than 100 environment variables (SageMaker's limit).")
        return problems


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


def _safe_archive_name(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name


def source_s3_uri(spec: TrainingJobSpec, job_name: str) -> str:
    """Where the job's source archive is uploaded: beside its output, as the estimator did."""
    return f"{spec.output_s3_uri.rstrip('/')}/{job_name}/source/{SOURCE_ARCHIVE_NAME}"


def build_create_training_job_request(spec: TrainingJobSpec, job_name: str | None = None) -> dict[str, Any]:
    """The exact keyword arguments of boto3 `sagemaker.create_training_job` for `spec`.

    Validates the spec first (ImproperlyConfigured). `job_name` defaults to a unique name from the prefix.
    """
    spec.validate()
    name = job_name or unique_job_name(spec.job_name_prefix)
    reserved: dict[str, Any] = {
        "sagemaker_program": spec.entry_point,
        "sagemaker_submit_directory": source_s3_uri(spec, name),
        "sagemaker_container_log_level": spec.container_log_level,
        "sagemaker_job_name": name,
        "sagemaker_region": spec.region,
    }
    hyperparameters = {key: json.dumps(value) for key, value in {**spec.hyperparameters, **reserved}.items()}
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "RoleArn": spec.role_arn,
        "AlgorithmSpecification": {"TrainingImage": spec.training_image, "TrainingInputMode": "File"},
        "HyperParameters": hyperparameters,
        "OutputDataConfig": {"S3OutputPath": spec.output_s3_uri.rstrip("/")},
        "ResourceConfig": {
            "InstanceType": spec.instance_type,
            "InstanceCount": spec.instance_count,
            "VolumeSizeInGB": spec.volume_size_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_runtime_s},
    }
    if spec.environment:
        request["Environment"] = dict(spec.environment)
    return request


def package_source(source_dir: Path, extra_files: Mapping[str, Path] | None = None) -> bytes:
    """The tar.gz the job downloads: `source_dir`'s files at the archive root, then `extra_files`.

    `extra_files` maps archive names to local files and replaces source files of the same name. Caches
    (`__pycache__`, `.git`, ...) are left out. The archive is reproducible: sorted names, zero times and
    owners. Raises ImproperlyConfigured when it would exceed MAX_SOURCE_ARCHIVE_BYTES.
    """
    source_dir = Path(source_dir)
    extra = dict(extra_files or {})
    members: dict[str, Path] = {}
    for path in sorted(source_dir.rglob("*")):
        relative = path.relative_to(source_dir)
        if any(part in _SKIPPED_NAMES for part in relative.parts) or path.suffix == ".pyc" or not path.is_file():
            continue
        members[relative.as_posix()] = path
    for name, path in extra.items():
        if not _safe_archive_name(name):
            raise ImproperlyConfigured(f"Extra file name {name!r} must be a relative path inside the archive.")
        members[PurePosixPath(name).as_posix()] = Path(path)

    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        for name in sorted(members):
            data = members[name].read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if members[name].stat().st_mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(data))
    archive = buffer.getvalue()
    if len(archive) > MAX_SOURCE_ARCHIVE_BYTES:
        raise ImproperlyConfigured(
            f"The source archive of {source_dir} is {len(archive) // 2**20} MiB: keep weights and data out "
            "of the training source folder (the job downloads them itself)."
        )
    return archive


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


# --- Composition from settings ----------------------------------------------------------------------------
def training_environment(settings: Settings) -> dict[str, str]:
    """The job's environment from settings: Hugging Face and Comet keys under the project's names and
    under the names the libraries read themselves (HF_TOKEN, COMET_PROJECT_NAME). Unset keys are left out."""
    environment: dict[str, str] = {}
    if settings.HUGGINGFACE_ACCESS_TOKEN:
        token = settings.HUGGINGFACE_ACCESS_TOKEN.get_secret_value()
        environment |= {"HUGGINGFACE_ACCESS_TOKEN": token, "HF_TOKEN": token}
    if settings.COMET_API_KEY:
        environment["COMET_API_KEY"] = settings.COMET_API_KEY.get_secret_value()
    if settings.COMET_PROJECT:
        environment |= {"COMET_PROJECT": settings.COMET_PROJECT, "COMET_PROJECT_NAME": settings.COMET_PROJECT}
    return environment


def finetuning_support_files() -> dict[str, Path]:
    """What `finetune.py` imports besides its own folder, packed beside it in the job's archive: the
    `llm_engineering` package's domain and model layers, the application modules the model layer uses (the
    dataset file loader, the evaluation judge and its LLM port), and the training config (as
    `training.yaml`). Their own imports stay inside these modules (checked by the layer tests)."""
    package = FINETUNING_SOURCE_DIR.parents[1]
    application = package / "application"
    modules = [
        package / "__init__.py",
        application / "__init__.py",
        application / "errors.py",
        application / "ports.py",
        application / "deadline.py",  # the LLM retry policy honours request deadlines
        application / "progress.py",  # training logs its steps and time left with it
    ]
    modules += [application / "datasets" / name for name in ("__init__.py", "dataset_files.py")]
    # The question set's loader and the answer figures share the guard's word measures.
    modules += [application / "rag" / name for name in ("__init__.py", "answer_quality.py")]
    for folder in ("evaluation", "llm"):
        modules += sorted((application / folder).glob("*.py"))
    for layer in ("domain", "model"):
        modules += sorted((package / layer).rglob("*.py"))
    files = {f"llm_engineering/{path.relative_to(package).as_posix()}": path for path in modules}
    files["training.yaml"] = package.parent / "configs" / "training.yaml"
    return files


def training_job_spec_from_settings(
    settings: Settings,
    *,
    output_s3_uri: str,
    hyperparameters: Mapping[str, HyperparameterValue] | None = None,
    **overrides: Any,
) -> TrainingJobSpec:
    """A spec with region, role and environment from settings; `overrides` set any other field."""
    if not settings.HUGGINGFACE_ACCESS_TOKEN:
        logger.warning(
            "HUGGINGFACE_ACCESS_TOKEN is empty: the training job cannot load gated base models nor push the model."
        )
    fields: dict[str, Any] = {
        "role_arn": settings.AWS_ARN_ROLE,
        "region": settings.AWS_REGION,
        "output_s3_uri": output_s3_uri,
        "hyperparameters": dict(hyperparameters or {}),
        "environment": training_environment(settings),
        "extra_files": finetuning_support_files(),
    }
    return TrainingJobSpec(**(fields | overrides))


def training_launcher_from_settings(settings: Settings) -> SageMakerTrainingLauncher:
    """A launcher on boto3 `sagemaker` and `s3` clients for AWS_REGION, signed with AWS_ACCESS_KEY and
    AWS_SECRET_KEY when both are set (else boto3's default credential chain). Connects to nothing yet."""
    import boto3
    from botocore.config import Config

    access_key = settings.AWS_ACCESS_KEY.get_secret_value() if settings.AWS_ACCESS_KEY else None
    secret_key = settings.AWS_SECRET_KEY.get_secret_value() if settings.AWS_SECRET_KEY else None
    if bool(access_key) != bool(secret_key):
        raise ImproperlyConfigured("AWS_ACCESS_KEY and AWS_SECRET_KEY go together: set both or neither.")
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=settings.AWS_REGION
    )
    config = Config(retries={"max_attempts": 5, "mode": "standard"})
    return SageMakerTrainingLauncher(session.client("sagemaker", config=config), session.client("s3", config=config))
