"""Builders of the local servers: settings -> the options the local LLM server and infrastructure manager run with."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from llm_engineering.settings import Settings

if TYPE_CHECKING:
    from llm_engineering.infrastructure.local.llm_server import LocalEngineOptions, LocalLLMServer
    from llm_engineering.infrastructure.local.local_infrastructure import LocalInfrastructure, LocalServices


def local_engine_options(settings: Settings) -> LocalEngineOptions:
    """The local LLM server's options: LOCAL_LLM_ENGINE/PORT/CONTEXT_SIZE/PARALLEL/THREADS, LOCAL_DATA_DIR,
    MAX_NEW_TOKENS_INFERENCE, and the model preloaded when a caller names none (an explicit LLM_MODEL_ID, else
    the packaged base model; entry points pass the served model instead, `model_to_serve_locally`)."""
    from llm_engineering.infrastructure.local.llm_server import LocalEngineOptions
    from llm_engineering.model.gguf_conversion import PACKAGED_MODEL_ID

    return LocalEngineOptions(
        engine=settings.LOCAL_LLM_ENGINE,
        data_dir=settings.LOCAL_DATA_DIR,
        port=settings.LOCAL_LLM_PORT,
        default_model_id=settings.configured_llm_model_id or PACKAGED_MODEL_ID,
        context_size=settings.LOCAL_LLM_CONTEXT_SIZE,
        parallel=settings.LOCAL_LLM_PARALLEL,
        threads=settings.LOCAL_LLM_THREADS,
        max_tokens=settings.MAX_NEW_TOKENS_INFERENCE,
    )


def build_local_llm_server(settings: Settings, model_id: str | None = None) -> LocalLLMServer:
    """The project's local LLM server for these settings, preloading `model_id` (see `local_engine_options`)."""
    from llm_engineering.infrastructure.local.llm_server import local_llm_server

    return local_llm_server(local_engine_options(settings), model_id=model_id)


def uses_local_llm(settings: Settings) -> bool:
    """True when the settings' LLM client talks to the local server: the OpenAI-compatible provider at a
    loopback address on LOCAL_LLM_PORT. Reads no model id, so it is safe for any remote configuration."""
    from llm_engineering.infrastructure.local.llm_server import is_local_server_url

    return settings.LLM_PROVIDER == "openai" and is_local_server_url(settings.LLM_BASE_URL, settings.LOCAL_LLM_PORT)


def local_services(settings: Settings) -> LocalServices:
    """Where this checkout's warehouse, vector DB, LLM server and data folder are, from the settings."""
    from llm_engineering.infrastructure.local.local_infrastructure import LocalServices

    embedded_qdrant = settings.qdrant_mode == "local"
    return LocalServices(
        data_dir=settings.LOCAL_DATA_DIR,
        database_host=settings.DATABASE_HOST,
        database_name=settings.DATABASE_NAME,
        warehouse_file=settings.warehouse_local_file,
        llm_base_url=settings.LLM_BASE_URL,
        qdrant_local_path=settings.qdrant_local_path if embedded_qdrant else None,
        qdrant_server_url=None if embedded_qdrant else settings.qdrant_server_url,
        local_llm=local_engine_options(settings) if uses_local_llm(settings) else None,
    )


def build_local_infrastructure(
    settings: Settings, project_root: Path | None = None, zenml_port: int | None = None
) -> LocalInfrastructure:
    """The local infrastructure manager (`poe local-infrastructure-up/down/status`) for these settings."""
    from llm_engineering.infrastructure.local.local_infrastructure import LocalInfrastructure

    return LocalInfrastructure(local_services(settings), project_root=project_root, zenml_port=zenml_port)
