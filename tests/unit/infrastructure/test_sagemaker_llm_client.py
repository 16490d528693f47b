import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from llm_engineering.application.errors import LLMResponseError, LLMUnavailableError
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters
from llm_engineering.application.llm.retry import RetryPolicy
from llm_engineering.domain.prompts import RESPONSE_HEADER
from llm_engineering.infrastructure.llm.sagemaker import SageMakerTGIClient
from llm_engineering.settings import load_settings


@pytest.fixture
def runtime():
    client = boto3.client(
        "sagemaker-runtime", region_name="eu-central-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _body(payload) -> dict:
    raw = json.dumps(payload).encode()
    return {"Body": StreamingBody(io.BytesIO(raw), len(raw)), "ContentType": "application/json"}


def test_tgi_payload_and_answer(runtime):
    client, stubber = runtime
    parameters = GenerationParameters(max_new_tokens=50, temperature=0.0, top_p=1.0, repetition_penalty=1.1)
    expected_body = {
        "inputs": "Write me a post about AWS SageMaker inference endpoints.",
        "parameters": {
            "max_new_tokens": 50,
            "top_p": 0.999,
            "temperature": 0.001,
            "repetition_penalty": 1.1,
            "return_full_text": False,
        },
    }
    stubber.add_response(
        "invoke_endpoint",
        _body([{"generated_text": "Endpoints are...", "details": {"generated_tokens": 3, "finish_reason": "eos"}}]),
        {
            "EndpointName": "twin",
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": json.dumps(expected_body),
            "InferenceComponentName": "twin-component",
        },
    )
    llm = SageMakerTGIClient("twin", client, inference_component_name="twin-component", model_id="org/twin")
    response = llm.complete(expected_body["inputs"], parameters)
    assert response.text == "Endpoints are..."
    assert response.completion_tokens == 3
    assert response.model_id == "org/twin"
    assert llm.endpoint == "sagemaker:twin"


def test_chat_is_rendered_with_the_instruction_template_and_no_component_name_is_sent(runtime):
    client, stubber = runtime
    stubber.add_response("invoke_endpoint", _body({"generated_text": "ok"}))
    llm = SageMakerTGIClient("twin", client, inference_component_name="None")
    assert llm.chat([ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")]).text == "ok"


def test_throttling_is_retried_and_validation_errors_are_final(runtime):
    client, stubber = runtime
    stubber.add_client_error("invoke_endpoint", service_error_code="ThrottlingException", http_status_code=400)
    stubber.add_response("invoke_endpoint", _body([{"generated_text": "after retry"}]))
    llm = SageMakerTGIClient("twin", client, retry_policy=RetryPolicy(max_retries=1, base_delay_s=0))
    assert llm.complete("x").text == "after retry"

    stubber.add_client_error("invoke_endpoint", service_error_code="ValidationError", http_status_code=400)
    with pytest.raises(LLMResponseError, match="ValidationError"):
        llm.complete("x")


def test_server_errors_become_unavailable_and_bad_bodies_response_errors(runtime):
    client, stubber = runtime
    llm = SageMakerTGIClient("twin", client, retry_policy=RetryPolicy(max_retries=0))
    stubber.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=503)
    with pytest.raises(LLMUnavailableError):
        llm.complete("x")
    stubber.add_response("invoke_endpoint", _body({"unexpected": True}))
    with pytest.raises(LLMResponseError):
        llm.complete("x")


def test_the_composition_root_builds_it_with_the_book_defaults(tmp_path):
    from llm_engineering.bootstrap import build_llm_client

    settings = load_settings(
        env_file=tmp_path / "none.env", LLM_PROVIDER="sagemaker", SAGEMAKER_ENDPOINT_INFERENCE="twin-endpoint"
    )
    llm = build_llm_client(settings, sagemaker_runtime=object())
    assert isinstance(llm, SageMakerTGIClient)
    assert llm.endpoint_name == "twin-endpoint"
    assert llm.defaults.repetition_penalty == 1.1
    payload = llm.payload("p")
    assert payload["parameters"]["return_full_text"] is False
    assert payload["parameters"]["max_new_tokens"] == settings.MAX_NEW_TOKENS_INFERENCE


def test_render_keeps_system_text_as_input():
    from llm_engineering.infrastructure.llm.sagemaker import render_chat_as_instruction

    prompt = render_chat_as_instruction([ChatMessage("system", "Context here"), ChatMessage("user", "Question")])
    assert prompt.index("Question") < prompt.index("Context here") < prompt.index(RESPONSE_HEADER)


def test_the_composition_root_names_the_inference_component_only_for_such_endpoints(tmp_path):
    from llm_engineering.bootstrap import build_llm_client

    def built(**values):
        settings = load_settings(env_file=tmp_path / "none.env", LLM_PROVIDER="sagemaker", **values)
        return build_llm_client(settings, sagemaker_runtime=object())

    assert built().inference_component_name is None
    component = built(SAGEMAKER_ENDPOINT_TYPE="inference-component", SAGEMAKER_INFERENCE_COMPONENT="twin-llm")
    assert component.inference_component_name == "twin-llm"
