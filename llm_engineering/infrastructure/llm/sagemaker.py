"""The book's SageMaker endpoint (Hugging Face TGI container) as an `LLMClient`, over boto3 sagemaker-runtime.

The TGI payload is `{"inputs": prompt, "parameters": {...}}` and the answer `[{"generated_text": ...}]`.
Chat messages are rendered with the project's instruction template, which the fine-tuned model was
trained on. botocore errors are translated into the typed `LLMError`s.
"""

from __future__ import annotations

import json
import time
from typing import Any

from llm_engineering.application.errors import LLMResponseError, LLMTimeoutError, LLMUnavailableError
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters, LLMResponse
from llm_engineering.application.llm.retry import RetryPolicy
from llm_engineering.domain.prompts import format_instruction_prompt

# Error codes that mean "try again later" rather than "your request is wrong".
RETRYABLE_CODES = {"ThrottlingException", "ServiceUnavailable", "InternalFailure", "ModelNotReadyException"}


def render_chat_as_instruction(messages: list[ChatMessage]) -> str:
    """Messages as one instruction prompt: system text first, user turns joined, then the response header."""
    system = "\n".join(m.content.strip() for m in messages if m.role == "system")
    user = "\n\n".join(m.content.strip() for m in messages if m.role == "user")
    return format_instruction_prompt(user, context=system or None)


class SageMakerTGIClient:
    """Calls `invoke_endpoint` on a SageMaker endpoint serving TGI."""

    def __init__(
        self,
        endpoint_name: str,
        runtime_client: Any,
        inference_component_name: str | None = None,
        defaults: GenerationParameters | None = None,
        retry_policy: RetryPolicy | None = None,
        model_id: str | None = None,
    ):
        if not endpoint_name:
            raise ValueError("endpoint_name must not be empty")
        self.endpoint_name = endpoint_name
        self.inference_component_name = inference_component_name
        self.runtime = runtime_client
        self.defaults = defaults or GenerationParameters()
        self.retry_policy = retry_policy or RetryPolicy()
        self._model_id = model_id or endpoint_name

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def endpoint(self) -> str:
        return f"sagemaker:{self.endpoint_name}"

    def payload(self, prompt: str, parameters: GenerationParameters | None = None) -> dict[str, Any]:
        """The TGI request body for `prompt`."""
        chosen = parameters or self.defaults
        tgi: dict[str, Any] = {
            "max_new_tokens": chosen.max_new_tokens,
            "top_p": min(chosen.top_p, 0.999),  # TGI rejects top_p == 1.0
            "temperature": max(chosen.temperature, 0.001),  # TGI rejects a temperature of 0
            "repetition_penalty": chosen.repetition_penalty,
            "return_full_text": False,
        }
        if chosen.stop:
            tgi["stop"] = list(chosen.stop)
        return {"inputs": prompt, "parameters": tgi}

    def complete(self, prompt: str, parameters: GenerationParameters | None = None) -> LLMResponse:
        body = self.payload(prompt, parameters)
        return self.retry_policy.call(lambda: self._invoke(body))

    def chat(self, messages: list[ChatMessage], parameters: GenerationParameters | None = None) -> LLMResponse:
        return self.complete(render_chat_as_instruction(messages), parameters)

    def ping(self) -> None:
        """SageMaker has no cheap health call on the runtime API: a one-token generation stands in."""
        self.complete("ping", GenerationParameters(max_new_tokens=1))

    def _invoke(self, body: dict[str, Any]) -> LLMResponse:
        from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

        arguments: dict[str, Any] = {
            "EndpointName": self.endpoint_name,
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": json.dumps(body),
        }
        if self.inference_component_name not in (None, "", "None"):
            arguments["InferenceComponentName"] = self.inference_component_name
        started = time.perf_counter()
        try:
            response = self.runtime.invoke_endpoint(**arguments)
            raw = response["Body"].read().decode("utf-8")
        except ConnectTimeoutError as error:  # never reached the endpoint: worth another try
            raise LLMUnavailableError(f"SageMaker endpoint {self.endpoint_name} unreachable: {error}") from error
        except ReadTimeoutError as error:  # the endpoint took the request: not sent again
            raise LLMTimeoutError(f"SageMaker endpoint {self.endpoint_name} timed out: {error}") from error
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            message = f"SageMaker endpoint {self.endpoint_name}: {code}: {error}"
            if code in RETRYABLE_CODES or (status is not None and status >= 500):
                raise LLMUnavailableError(message) from error
            raise LLMResponseError(message, status_code=status) from error
        except BotoCoreError as error:
            raise LLMUnavailableError(f"SageMaker endpoint {self.endpoint_name} unreachable: {error}") from error
        latency = time.perf_counter() - started
        try:
            decoded = json.loads(raw)
            first = decoded[0] if isinstance(decoded, list) else decoded
            text = first["generated_text"]
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise LLMResponseError(f"SageMaker endpoint {self.endpoint_name} returned {raw[:200]!r}") from error
        details = first.get("details") or {}
        return LLMResponse(
            text=text,
            model_id=self._model_id,
            completion_tokens=details.get("generated_tokens"),
            latency_s=latency,
            finish_reason=details.get("finish_reason"),
            raw={"response": decoded},
        )


def sagemaker_runtime_client(
    region: str, access_key: str | None = None, secret_key: str | None = None, read_timeout_s: float = 120.0
) -> Any:
    """A boto3 `sagemaker-runtime` client; boto3's own retries are off (the `RetryPolicy` retries)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sagemaker-runtime",
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(read_timeout=read_timeout_s, connect_timeout=5, retries={"max_attempts": 0}),
    )
