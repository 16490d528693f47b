"""Builders of the LLM clients (served model, teacher, judge) and their generation defaults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_engineering.bootstrap.builders.models import build_model_serving
from llm_engineering.settings import Settings, get_settings

if TYPE_CHECKING:
    from llm_engineering.application.evaluation.judge import LLMJudge
    from llm_engineering.application.llm.client import GenerationParameters, LLMClient
    from llm_engineering.application.rag.capabilities import ProbeMemory
    from llm_engineering.application.serving.served_model import ModelServing


def generation_parameters(settings: Settings) -> GenerationParameters:
    """The answer-generation defaults (`*_INFERENCE` settings); requests may override single fields."""
    from llm_engineering.application.llm.client import GenerationParameters

    return GenerationParameters(
        max_new_tokens=settings.MAX_NEW_TOKENS_INFERENCE,
        temperature=settings.TEMPERATURE_INFERENCE,
        top_p=settings.TOP_P_INFERENCE,
        repetition_penalty=settings.REPETITION_PENALTY_INFERENCE,
    )


def build_llm_client(
    settings: Settings, sagemaker_runtime: Any | None = None, serving: ModelServing | None = None
) -> LLMClient:
    """The client LLM_PROVIDER names: any OpenAI-compatible server, or the SageMaker TGI endpoint. Its model is
    LLM_MODEL_ID, or with LLM_MODEL_ID=auto the served model, asked on every request from `serving` (default:
    one built from `settings`), so a switch reaches the next request without a restart."""
    from llm_engineering.application.llm.retry import RetryPolicy

    retry_policy = RetryPolicy(max_retries=settings.LLM_MAX_RETRIES)
    defaults = generation_parameters(settings)
    if settings.LLM_PROVIDER == "sagemaker":
        from llm_engineering.infrastructure.llm.sagemaker import SageMakerTGIClient, sagemaker_runtime_client

        return SageMakerTGIClient(
            endpoint_name=settings.SAGEMAKER_ENDPOINT_INFERENCE,
            # An inference-component endpoint routes a call only when it names the component.
            inference_component_name=(
                settings.SAGEMAKER_INFERENCE_COMPONENT
                if settings.SAGEMAKER_ENDPOINT_TYPE == "inference-component"
                else None
            ),
            runtime_client=sagemaker_runtime
            or sagemaker_runtime_client(
                settings.AWS_REGION,
                settings.AWS_ACCESS_KEY.get_secret_value() if settings.AWS_ACCESS_KEY else None,
                settings.AWS_SECRET_KEY.get_secret_value() if settings.AWS_SECRET_KEY else None,
                read_timeout_s=settings.LLM_TIMEOUT_S,
            ),
            defaults=defaults,
            retry_policy=retry_policy,
            model_id=settings.HF_MODEL_ID,
        )
    from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient

    model_id: str | Callable[[], str]
    if settings.configured_llm_model_id:
        model_id = settings.configured_llm_model_id
    else:
        current = serving or build_model_serving(settings)
        model_id = lambda: current.current().model_id  # a cheap per-request read (cached on the file)
    return OpenAICompatibleClient(
        base_url=settings.LLM_BASE_URL,
        model_id=model_id,
        api_key=settings.LLM_API_KEY.get_secret_value() if settings.LLM_API_KEY else None,
        timeout_s=settings.LLM_TIMEOUT_S,
        retry_policy=retry_policy,
        defaults=defaults,
    )


def build_probe_memory(settings: Settings, llm: LLMClient, cache_file: Path | None = None) -> ProbeMemory:
    """Where the capability probes' verdicts on `llm`'s model are kept across restarts: a JSON file
    (`cache_file`, default LOCAL_DATA_DIR/cache/capabilities.json), keyed by the server URL, the model id and
    fingerprints of the model (its files when served from LOCAL_DATA_DIR/models on this machine, and the
    server's model list). With RAG_REPROBE_CAPABILITIES the stored verdicts are ignored and replaced."""
    from llm_engineering.application.rag.capabilities import ProbeMemory
    from llm_engineering.infrastructure.llm.model_identity import local_model_path, model_key
    from llm_engineering.infrastructure.probe_verdicts import JsonVerdictStore

    def key() -> str:  # worked out on a model's first probe, not here: building the container touches nothing
        local = (
            local_model_path(settings.LOCAL_DATA_DIR / "models", llm.model_id, settings.LLM_BASE_URL)
            if settings.LLM_PROVIDER == "openai"
            else None
        )
        return model_key(llm, local)

    store = JsonVerdictStore(cache_file or settings.LOCAL_DATA_DIR / "cache" / "capabilities.json")
    return ProbeMemory(store, key, reprobe=settings.RAG_REPROBE_CAPABILITIES, model=lambda: llm.model_id)


def teacher_configured(settings: Settings) -> bool:
    """Whether a dataset-generation teacher is set (DATASET_GENERATOR_BASE_URL)."""
    return bool(settings.DATASET_GENERATOR_BASE_URL)


def build_dataset_teacher(settings: Settings) -> LLMClient | None:
    """The teacher model for dataset generation (any OpenAI-compatible server), or None when not configured.

    The model id and key fall back to OPENAI_MODEL_ID and OPENAI_API_KEY, so an OpenAI setup needs only
    DATASET_GENERATOR_BASE_URL=https://api.openai.com/v1 beside the key it already has.
    """
    if not teacher_configured(settings):
        return None
    from llm_engineering.application.llm.retry import RetryPolicy
    from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient

    key = settings.DATASET_GENERATOR_API_KEY or settings.OPENAI_API_KEY
    return OpenAICompatibleClient(
        base_url=str(settings.DATASET_GENERATOR_BASE_URL),
        model_id=settings.DATASET_GENERATOR_MODEL_ID or settings.OPENAI_MODEL_ID,
        api_key=(key.get_secret_value() or None) if key else None,
        timeout_s=settings.DATASET_GENERATOR_TIMEOUT_S,
        # Rate limits (429) and overloads are retried with backoff before an extract is given up.
        retry_policy=RetryPolicy(max_retries=max(settings.LLM_MAX_RETRIES, 3)),
    )


def build_evaluation_judge(settings: Settings | None = None) -> LLMJudge | None:
    """The LLM judge of model and RAG evaluation, or None when EVALUATION_JUDGE_BASE_URL is unset.

    Like the teacher, the model id and key fall back to OPENAI_MODEL_ID and OPENAI_API_KEY. The client
    retries transport failures (429s, overloads); the judge then retries calls and unusable replies itself.
    """
    settings = settings or get_settings()
    if not settings.EVALUATION_JUDGE_BASE_URL:
        return None
    from llm_engineering.application.evaluation.judge import LLMJudge
    from llm_engineering.application.llm.retry import RetryPolicy
    from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient

    key = settings.EVALUATION_JUDGE_API_KEY or settings.OPENAI_API_KEY
    client = OpenAICompatibleClient(
        base_url=settings.EVALUATION_JUDGE_BASE_URL,
        model_id=settings.EVALUATION_JUDGE_MODEL_ID or settings.OPENAI_MODEL_ID,
        api_key=(key.get_secret_value() or None) if key else None,
        timeout_s=settings.EVALUATION_JUDGE_TIMEOUT_S,
        retry_policy=RetryPolicy(max_retries=settings.LLM_MAX_RETRIES),
    )
    return LLMJudge(client, max_workers=settings.EVALUATION_JUDGE_MAX_WORKERS)
