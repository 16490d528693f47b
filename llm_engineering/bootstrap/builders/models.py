"""Builders around trained models: publishers, the registry, serving, GGUF export, experiment tracking."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from llm_engineering.model.gguf_conversion import PACKAGED_MODEL_ID
from llm_engineering.settings import Settings

if TYPE_CHECKING:
    from llm_engineering.application.serving.served_model import ModelServing
    from llm_engineering.domain.serving import ServedModel
    from llm_engineering.infrastructure.huggingface.datasets import HuggingFaceDatasetPublisher
    from llm_engineering.infrastructure.huggingface.models import HuggingFaceModelPublisher
    from llm_engineering.model.gguf_bundle import GGUFExporter
    from llm_engineering.model.registry import ModelRegistry
    from llm_engineering.model.tracking import ExperimentTracker


def build_dataset_publisher(settings: Settings) -> HuggingFaceDatasetPublisher:
    from llm_engineering.infrastructure.huggingface.datasets import HuggingFaceDatasetPublisher

    token = settings.HUGGINGFACE_ACCESS_TOKEN
    return HuggingFaceDatasetPublisher(token=(token.get_secret_value() or None) if token else None)


# --- Training ------------------------------------------------------------------------------------------
# The packaged base model the CPU profile fine-tunes (converted once by `poe local-llm-up`); fixed rather
# than the served model, which is the trained twin once one is served.
LOCAL_BASE_MODEL_ID = PACKAGED_MODEL_ID


def build_model_publisher(settings: Settings) -> HuggingFaceModelPublisher:
    from llm_engineering.infrastructure.huggingface.models import HuggingFaceModelPublisher

    token = settings.HUGGINGFACE_ACCESS_TOKEN
    return HuggingFaceModelPublisher(token=(token.get_secret_value() or None) if token else None)


def training_base_model_dir(settings: Settings, convert: bool = True) -> Path:
    """The local base model folder (`LOCAL_DATA_DIR/models/gemma-3-270m-twin`), converted from the packaged
    GGUF on first use when `convert` is set."""
    from llm_engineering.model.gguf_conversion import convert_gguf_model, local_model_dir

    model_dir = local_model_dir(settings.LOCAL_DATA_DIR / "models", LOCAL_BASE_MODEL_ID)
    return convert_gguf_model(model_dir) if convert else model_dir


def build_model_registry(settings: Settings) -> ModelRegistry:
    from llm_engineering.model.registry import ModelRegistry

    return ModelRegistry(settings.LOCAL_DATA_DIR / "registry")


# --- Serving ---------------------------------------------------------------------------------------------
# The registered model whose production version is served when nothing is chosen (configs/training.yaml).
TWIN_MODEL_NAME = "llm_twin"


def served_model_file(settings: Settings) -> Path:
    """Where the served-model choice is recorded: LOCAL_DATA_DIR/models/served.json."""
    from llm_engineering.infrastructure.served_model_store import FILE_NAME

    return settings.LOCAL_DATA_DIR / "models" / FILE_NAME


def build_model_serving(settings: Settings) -> ModelServing:
    """The served-model use cases (`application.serving.served_model`): the record under LOCAL_DATA_DIR, the
    registry checked for the engine LOCAL_LLM_ENGINE resolves to, and the local server on LOCAL_LLM_PORT.
    Touches nothing until used."""
    from llm_engineering.application.serving.served_model import ModelServing
    from llm_engineering.bootstrap.builders.local import local_engine_options
    from llm_engineering.infrastructure.local.llm_server import resolve_engine
    from llm_engineering.infrastructure.local.served_model_engine import LocalServerEngine
    from llm_engineering.infrastructure.served_model_store import JsonServedModelStore
    from llm_engineering.model.serving_catalog import RegistryModelCatalog

    catalog = RegistryModelCatalog(
        build_model_registry(settings),
        settings.LOCAL_DATA_DIR / "models",
        twin_name=TWIN_MODEL_NAME,
        base_model_id=PACKAGED_MODEL_ID,
        engine=lambda: resolve_engine(settings.LOCAL_LLM_ENGINE)[0],  # asked at a check: imports llama_cpp then
    )
    return ModelServing(
        JsonServedModelStore(served_model_file(settings)),
        catalog,
        LocalServerEngine(local_engine_options(settings)),
        configured_model_id=settings.configured_llm_model_id,
        base_model_id=PACKAGED_MODEL_ID,
    )


def model_to_serve_locally(settings: Settings) -> ServedModel:
    """What the local LLM server preloads: LLM_MODEL_ID when it is set, else the served model, its link in
    LOCAL_DATA_DIR/models restored when it is a registered version. Raises ServedModelError when that
    version can no longer be served."""
    serving = build_model_serving(settings)
    return serving.current() if settings.configured_llm_model_id else serving.prepared()


def served_model(settings: Settings) -> ServedModel:
    """The model the API asks for with these settings: LLM_MODEL_ID, else the recorded choice, else the twin's
    production version, else the packaged base model."""
    return build_model_serving(settings).current()


def build_gguf_exporter(settings: Settings) -> GGUFExporter:
    """GGUF exports of registered twins: the registry, the packaged base GGUF (joined into
    LOCAL_DATA_DIR/models/gguf when an export needs it) and llama.cpp's quantizer for Q4_K_M."""
    from llm_engineering.infrastructure.llamacpp.quantize import LlamaCppQuantizer
    from llm_engineering.model.gguf_bundle import GGUFExporter
    from llm_engineering.model.gguf_conversion import packaged_gguf

    models_dir = settings.LOCAL_DATA_DIR / "models"
    return GGUFExporter(build_model_registry(settings), lambda: packaged_gguf(models_dir), LlamaCppQuantizer())


def build_experiment_tracker(settings: Settings, experiment_name: str | None = None) -> ExperimentTracker:
    """Comet ML online with COMET_API_KEY, an offline archive under LOCAL_DATA_DIR/comet without it."""
    from llm_engineering.model.tracking import create_tracker

    key = settings.COMET_API_KEY.get_secret_value() if settings.COMET_API_KEY else None
    return create_tracker(
        settings.COMET_PROJECT,
        api_key=key or None,
        workspace=settings.COMET_WORKSPACE,
        offline_dir=settings.LOCAL_DATA_DIR / "comet",
        experiment_name=experiment_name,
    )
