"""The infrastructure layer's own exceptions, derived from the project's base error `LLMTwinError`.

Adapters translate library errors into the domain's and application's exceptions; these are the
failures that only exist out here (a model that will not encode, a local service that will not start).
"""

from __future__ import annotations

from llm_engineering.domain.exceptions import LLMTwinError


class EmbeddingError(LLMTwinError):
    """The embedding model failed while encoding texts."""


class UnsupportedEmbeddingModel(LLMTwinError, ValueError):
    """The embedding model cannot be exported to OpenVINO (not Transformer -> mean Pooling, no local weights)."""


class LocalLLMError(LLMTwinError):
    """The local model server could not be started or stopped."""


class PromptTooLongError(LLMTwinError, ValueError):
    """The llama.cpp engine: a prompt leaves no room to generate in a slot's context (HTTP 400)."""


class ModelNotServedError(LLMTwinError, LookupError):
    """The llama.cpp engine: a request names a model it neither loaded nor finds as a GGUF file (HTTP 404)."""


class DatasetPublishError(LLMTwinError):
    """A dataset could not be pushed to the Hugging Face Hub (no token, no access, network)."""


class SageMakerJobError(LLMTwinError):
    """A SageMaker job could not be started or followed, or it failed or was stopped.

    `job_name`, `status` (the job's last TrainingJobStatus), `failure_reason` (SageMaker's own words)
    and `aws_error_code` (the refused call's error code) are set when known.
    """

    def __init__(
        self,
        message: str,
        *,
        job_name: str | None = None,
        status: str | None = None,
        failure_reason: str | None = None,
        aws_error_code: str | None = None,
    ):
        super().__init__(message)
        self.job_name = job_name
        self.status = status
        self.failure_reason = failure_reason
        self.aws_error_code = aws_error_code


class AwsResourceError(LLMTwinError):
    """An AWS call that creates, changes, deletes or waits for a resource (an IAM user or role, a SageMaker
    model, endpoint or inference component, a scaling policy) was refused, failed or timed out.

    `operation` (the boto3 method), `resource` (the name it acted on) and `aws_error_code` are set when known.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        resource: str | None = None,
        aws_error_code: str | None = None,
    ):
        super().__init__(message)
        self.operation = operation
        self.resource = resource
        self.aws_error_code = aws_error_code
