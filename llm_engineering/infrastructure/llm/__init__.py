"""LLM clients: any OpenAI-compatible server, the SageMaker TGI endpoint, and the factory choosing one."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llm_engineering.application.llm.client import LLMClient
    from llm_engineering.settings import Settings


def build_llm_client(settings: Settings) -> LLMClient:
    """The client LLM_PROVIDER names, configured from settings (URL, model, key, timeouts, sampling)."""
    from llm_engineering.application.llm.client import GenerationParameters
    from llm_engineering.application.llm.retry import RetryPolicy

    if settings.LLM_PROVIDER == "sagemaker":
        from llm_engineering.infrastructure.llm.sagemaker import SageMakerTGIClient

        return SageMakerTGIClient.from_settings(settings)
    from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient

    return OpenAICompatibleClient(
        base_url=settings.LLM_BASE_URL,
        model_id=settings.LLM_MODEL_ID,
        api_key=settings.LLM_API_KEY.get_secret_value() if settings.LLM_API_KEY else None,
        timeout_s=settings.LLM_TIMEOUT_S,
        retry_policy=RetryPolicy(max_retries=settings.LLM_MAX_RETRIES),
        defaults=GenerationParameters(
            max_new_tokens=settings.MAX_NEW_TOKENS_INFERENCE,
            temperature=settings.TEMPERATURE_INFERENCE,
            top_p=settings.TOP_P_INFERENCE,
        ),
    )
