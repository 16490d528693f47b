"""The composition root: every collaborator the project uses is built here, from settings, in one place.

Entry points (tools, ZenML steps, the API, benches) ask the current `Container` for what they need:

    container = bootstrap.container()          # built from get_settings() on first use, stores bound
    retriever = container.retriever()
    context = container.crawler_context()

Tests inject their own adapters (`bootstrap.configure(settings, warehouse=fake)` or
`bootstrap.override(vector_store=...)`). Re-configuring with other settings or adapters replaces the
container and rebinds the domain's stores; it never silently keeps the old ones. Nothing connects,
loads a model or starts a browser until a collaborator is first used.
"""

from __future__ import annotations

import atexit
import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_engineering.domain.base.nosql import bind_warehouse
from llm_engineering.domain.base.vector import bind_vector_store
from llm_engineering.domain.documents import WAREHOUSE_DOCUMENT_CLASSES
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.model.gguf_conversion import PACKAGED_MODEL_ID
from llm_engineering.settings import Settings, get_settings

if TYPE_CHECKING:
    from llm_engineering.application.crawlers.base import CrawlerContext, CrawlLimits
    from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
    from llm_engineering.application.crawlers.egress import EgressPolicy
    from llm_engineering.application.datasets.raft import PassageSearch
    from llm_engineering.application.evaluation.judge import LLMJudge
    from llm_engineering.application.llm.client import GenerationParameters, LLMClient
    from llm_engineering.application.operations.alerts import Alerter
    from llm_engineering.application.ports import Embedder
    from llm_engineering.application.rag.answering import AnswerGenerator
    from llm_engineering.application.rag.capabilities import ProbeMemory
    from llm_engineering.application.rag.reranking import Reranker
    from llm_engineering.application.rag.retriever import ContextRetriever
    from llm_engineering.application.serving.served_model import ModelServing
    from llm_engineering.domain.base.ports import DocumentWarehouse, VectorStore
    from llm_engineering.domain.serving import ServedModel
    from llm_engineering.infrastructure.huggingface.datasets import HuggingFaceDatasetPublisher
    from llm_engineering.infrastructure.huggingface.models import HuggingFaceModelPublisher
    from llm_engineering.infrastructure.threads import ProcessKind
    from llm_engineering.model.gguf_bundle import GGUFExporter
    from llm_engineering.model.registry import ModelRegistry
    from llm_engineering.model.serving_profile import ServingProfiles
    from llm_engineering.model.tracking import ExperimentTracker

# What a test (or an entry point) may hand in instead of the adapter built from settings.
INJECTABLE = ("warehouse", "vector_store", "embedder", "reranker", "llm", "teacher")


# --- Builders: settings -> one adapter each -------------------------------------------------------------
def build_warehouse(settings: Settings) -> DocumentWarehouse:
    from llm_engineering.infrastructure.db.mongo import MongoWarehouse

    unique = {cls.get_collection_name(): cls.unique_fields() for cls in WAREHOUSE_DOCUMENT_CLASSES}
    return MongoWarehouse(
        settings.DATABASE_HOST,
        settings.DATABASE_NAME,
        timeout_s=settings.DATABASE_TIMEOUT_S,
        unique_fields={name: fields for name, fields in unique.items() if fields},
    )


def build_vector_store(settings: Settings) -> VectorStore:
    from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore

    if settings.qdrant_mode == "local":
        return QdrantVectorStore(path=settings.qdrant_local_path)
    api_key = settings.QDRANT_APIKEY.get_secret_value() if settings.QDRANT_APIKEY else None
    return QdrantVectorStore(url=settings.qdrant_server_url, api_key=api_key)


@functools.cache
def _shared_embedder(model_id: str, device: str, batch_size: int, backend: str, cache_dir: Path) -> Embedder:
    # One model per configuration and process: re-configuring (tests, a reloaded API) never loads it twice.
    from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder

    def torch_embedder() -> Embedder:
        bf16 = backend == "torch-bf16"
        return SentenceTransformerEmbedder(model_id=model_id, device=device, batch_size=batch_size, bf16=bf16)

    if backend in ("torch", "torch-bf16"):
        return torch_embedder()
    from llm_engineering.infrastructure.openvino_embeddings import OpenVINOEmbedder, openvino_installed

    unavailable = None
    if device != "cpu":
        unavailable = f"RAG_MODEL_DEVICE={device} (the OpenVINO embedder runs on the CPU)"
    elif not openvino_installed():
        unavailable = "the openvino package is not installed"
    if unavailable and backend == "openvino":
        raise ImproperlyConfigured(f"EMBEDDING_BACKEND=openvino, but {unavailable}; use torch or auto.")
    if unavailable:
        logger.info("Embedding backend: torch, as {}", unavailable)
        return torch_embedder()
    # auto: a model that does not export, or an export that does not run, hands over to torch (logged once).
    fallback = torch_embedder if backend == "auto" else None
    return OpenVINOEmbedder(model_id, cache_dir=cache_dir, batch_size=batch_size, fallback=fallback)


def build_embedder(settings: Settings) -> Embedder:
    """The process-wide embedder for these settings (not loaded until first used): EMBEDDING_BACKEND's."""
    return _shared_embedder(
        settings.TEXT_EMBEDDING_MODEL_ID,
        settings.RAG_MODEL_DEVICE,
        settings.EMBEDDING_BATCH_SIZE,
        settings.EMBEDDING_BACKEND,
        settings.embedding_cache_dir,
    )


def use_embedding_threads(settings: Settings, kind: ProcessKind) -> int:
    """Set the threads that encode text in this process, by its kind: `query` (the API, CLI query tools,
    latency benches: 1) or `batch` (every core); EMBEDDING_THREADS > 0 overrides. Imports no model library
    (applied when torch is imported). Returns the number."""
    from llm_engineering.infrastructure.threads import use_embedding_threads as use_threads

    return use_threads(kind, settings.EMBEDDING_THREADS)


def embedding_threads_for(settings: Settings, kind: ProcessKind) -> AbstractContextManager[int]:
    """`with` block form of `use_embedding_threads`: the number before is restored at its end (batch work
    inside a query process, such as the feature pipeline run from the API's web UI)."""
    from llm_engineering.infrastructure.threads import embedding_threads_for as threads_for

    return threads_for(kind, settings.EMBEDDING_THREADS)


def build_reranker(settings: Settings, embedder: Embedder) -> Reranker:
    """The reranker RERANKER asks for: `auto` (cross-encoder if resolvable offline, else bi-encoder) or a fixed one."""
    from llm_engineering.application.rag.reranking import EmbeddingReranker

    model_id = settings.RERANKING_CROSS_ENCODER_MODEL_ID
    if settings.RERANKER in ("auto", "cross-encoder"):
        from llm_engineering.infrastructure.cross_encoder import CrossEncoderReranker, resolve_cross_encoder

        source = resolve_cross_encoder(model_id)
        if source is not None:
            logger.info("Reranker: cross-encoder {} from {}", model_id, source)
            return CrossEncoderReranker(model_id, source, device=settings.RAG_MODEL_DEVICE)
        if settings.RERANKER == "cross-encoder":
            raise ImproperlyConfigured(
                f"RERANKER=cross-encoder but the weights of {model_id!r} are not available locally; set "
                "RERANKING_CROSS_ENCODER_MODEL_ID to a local folder, fill the Hugging Face cache, or use RERANKER=auto."
            )
        logger.info("Reranker: {} is not available offline; re-scoring with the bi-encoder instead", model_id)
    return EmbeddingReranker(embedder)


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


def build_alerter(settings: Settings | None = None) -> Alerter:
    """The active ZenML stack's alerter (falling back to the alerts file when it fails), else the file."""
    from llm_engineering.infrastructure.alerting import FileAlerter, StackAlerter, active_stack_alerter_component

    settings = settings or get_settings()
    file_alerter = FileAlerter(settings.alerts_file)
    component = active_stack_alerter_component()
    return StackAlerter(component, fallback=file_alerter) if component is not None else file_alerter


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
        LocalServerEngine(settings),
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


def crawl_limits(settings: Settings) -> CrawlLimits:
    from llm_engineering.application.crawlers.base import CrawlLimits

    return CrawlLimits(
        page_timeout_s=settings.CRAWL_PAGE_TIMEOUT_S,
        max_page_bytes=settings.CRAWL_MAX_PAGE_BYTES,
        max_file_bytes=settings.GITHUB_MAX_FILE_BYTES,
        max_repository_bytes=settings.GITHUB_MAX_REPOSITORY_BYTES,
        clone_timeout_s=settings.GITHUB_CLONE_TIMEOUT_S,
        scroll_limit=settings.CRAWL_SCROLL_LIMIT,
        scroll_pause_s=settings.CRAWL_SCROLL_PAUSE_S,
    )


def build_egress_policy(settings: Settings) -> EgressPolicy:
    """Where crawlers may connect: the public internet, plus private networks with CRAWL_ALLOW_PRIVATE_NETWORKS."""
    from llm_engineering.infrastructure.egress import default_policy

    return default_policy(allow_private=settings.CRAWL_ALLOW_PRIVATE_NETWORKS)


def build_crawler_context(settings: Settings) -> CrawlerContext:
    """The crawlers' context for one run (HTTP fetcher, browser factory, limits, credentials).

    The caller closes its fetcher when the run ends (`context.fetcher.close()`).
    """
    from llm_engineering.application.crawlers.base import CrawlerContext, LinkedInCredentials
    from llm_engineering.infrastructure.browser import start_chromium
    from llm_engineering.infrastructure.http_pages import HttpPageFetcher

    egress = build_egress_policy(settings)
    credentials = None
    if settings.LINKEDIN_USERNAME and settings.LINKEDIN_PASSWORD:
        credentials = LinkedInCredentials(settings.LINKEDIN_USERNAME, settings.LINKEDIN_PASSWORD.get_secret_value())
    return CrawlerContext(
        limits=crawl_limits(settings),
        egress=egress,
        fetcher=HttpPageFetcher(
            timeout_s=settings.CRAWL_PAGE_TIMEOUT_S,
            max_bytes=settings.CRAWL_MAX_PAGE_BYTES,
            max_connections=max(settings.CRAWL_MAX_WORKERS, 1) * 2,
            egress=egress,
        ),
        browser_factory=functools.partial(
            start_chromium,
            settings.CHROMIUM_PATH,
            settings.CHROMEDRIVER_PATH,
            settings.CRAWL_PAGE_TIMEOUT_S,
            egress=egress,
        ),
        linkedin=credentials,
        linkedin_login_url=settings.LINKEDIN_LOGIN_URL,
    )


def build_crawler_dispatcher(routes: Mapping[str, str] | None = None) -> CrawlerDispatcher:
    """Every crawler, with a config's extra `routes` (domain or ^regex -> crawler name) tried first."""
    from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher

    return (
        CrawlerDispatcher.build()
        .register_routes(dict(routes) if routes else None)
        .register_medium()
        .register_linkedin()
        .register_github()
        .register_local_git()
    )


# --- The container ---------------------------------------------------------------------------------------
class Container:
    """The collaborators of one configuration, each built on first use and then shared (thread-safe).

    Adapters passed in are used as they are and never closed here; the ones built here are closed by
    `close()`. Per-run objects (crawler context, dispatcher) are new on every call.
    """

    def __init__(self, settings: Settings, **adapters: Any):
        unknown = sorted(set(adapters) - set(INJECTABLE))
        if unknown:
            raise TypeError(f"Container() got unknown adapters {unknown}; injectable: {', '.join(INJECTABLE)}")
        self.settings = settings
        self._given: dict[str, Any] = {name: value for name, value in adapters.items() if value is not None}
        self._built: dict[str, Any] = {}
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Container(injected={sorted(self._given)}, built={sorted(self._built)})"

    @property
    def injected(self) -> dict[str, Any]:
        """The adapters handed in rather than built from settings (by name)."""
        return dict(self._given)

    def _get(self, name: str, build: Callable[[], Any]) -> Any:
        if name in self._given:
            return self._given[name]
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            return self._built[name]

    # --- Stores ------------------------------------------------------------------------------------
    def warehouse(self) -> DocumentWarehouse:
        return self._get("warehouse", lambda: build_warehouse(self.settings))

    def vector_store(self) -> VectorStore:
        return self._get("vector_store", lambda: build_vector_store(self.settings))

    def bind_stores(self) -> None:
        """Bind this container's warehouse and vector store to the domain's documents (no connection yet)."""
        bind_warehouse(self.warehouse())
        bind_vector_store(self.vector_store())

    # --- Models and LLMs ---------------------------------------------------------------------------
    def embedder(self) -> Embedder:
        return self._get("embedder", lambda: build_embedder(self.settings))

    def reranker(self) -> Reranker:
        return self._get("reranker", lambda: build_reranker(self.settings, self.embedder()))

    def llm(self) -> LLMClient:
        return self._get("llm", lambda: build_llm_client(self.settings, serving=self.model_serving()))

    def model_serving(self) -> ModelServing:
        """The served-model use cases; the LLM client asks it for the model on every request."""
        return self._get("model_serving", lambda: build_model_serving(self.settings))

    def teacher(self) -> LLMClient | None:
        """The dataset-generation teacher, or None when DATASET_GENERATOR_BASE_URL is not set."""
        return self._get("teacher", lambda: build_dataset_teacher(self.settings))

    def dataset_publisher(self) -> HuggingFaceDatasetPublisher:
        return build_dataset_publisher(self.settings)

    def generation_parameters(self) -> GenerationParameters:
        return generation_parameters(self.settings)

    # --- Use-case objects --------------------------------------------------------------------------
    def retriever(self, use_llm: bool = True) -> ContextRetriever:
        """The RAG retriever; with `use_llm=False` self-query and expansion are skipped (no LLM call)."""
        return self._get(f"retriever:{use_llm}", lambda: self._build_retriever(use_llm))

    def passage_search(self) -> PassageSearch:
        """The feature store searched as `/rag` searches it (no LLM steps): passages for retrieval-aware
        training samples (`application/datasets/raft.py`)."""
        from llm_engineering.application.datasets.raft import retriever_passage_search

        self.bind_stores()
        return retriever_passage_search(self.retriever(use_llm=False))

    def _build_retriever(self, use_llm: bool) -> ContextRetriever:
        from llm_engineering.application.rag.query_expansion import QueryExpansion
        from llm_engineering.application.rag.retriever import ContextRetriever
        from llm_engineering.application.rag.self_query import SelfQuery

        llm = self.llm() if use_llm else None
        # Verdicts are kept only on a model the settings name (an injected LLM, a test's fake, has no key).
        memory = build_probe_memory(self.settings, llm) if llm is not None and "llm" not in self._given else None
        timeout_s = self.settings.RAG_CAPABILITY_PROBE_TIMEOUT_S
        return ContextRetriever(
            embedder=self.embedder(),
            reranker=self.reranker(),
            self_query=SelfQuery(llm, mode=self.settings.RAG_SELF_QUERY, memory=memory, probe_timeout_s=timeout_s),
            query_expansion=QueryExpansion(
                llm, mode=self.settings.RAG_QUERY_EXPANSION, memory=memory, probe_timeout_s=timeout_s
            ),
            search_mode=self.settings.RAG_SEARCH_MODE,
            hybrid_candidates=self.settings.RAG_HYBRID_CANDIDATES,
            document_support_weight=(
                self.settings.RAG_DOCUMENT_SUPPORT_WEIGHT if self.settings.RAG_DOCUMENT_SUPPORT_WEIGHT >= 0 else None
            ),
        )

    def answer_generator(self) -> AnswerGenerator:
        from llm_engineering.application.rag.answering import DEFAULT_MAX_CONTEXT_CHARS, AnswerGenerator, AnswerGuard
        from llm_engineering.model.serving_profile import shape_for

        return self._get(
            "answer_generator",
            lambda: AnswerGenerator(
                self.llm(),
                self.generation_parameters(),
                max_context_chars=self.settings.RAG_MAX_CONTEXT_CHARS or DEFAULT_MAX_CONTEXT_CHARS,
                guard=AnswerGuard(
                    fallback=self.settings.RAG_ANSWER_FALLBACK, min_grounding=self.settings.RAG_MIN_GROUNDING
                ),
                embedder=self.embedder(),
                shape_for=shape_for(
                    self.serving_profiles(),
                    self.settings.RAG_MAX_CONTEXT_CHARS,
                    DEFAULT_MAX_CONTEXT_CHARS,
                    self.settings.MIN_NEW_TOKENS_INFERENCE,
                ),
            ),
        )

    def serving_profiles(self) -> ServingProfiles:
        """How each registered twin is served (its trained `/rag` context), from the model cards."""
        from llm_engineering.model.serving_profile import ServingProfiles

        return self._get("serving_profiles", lambda: ServingProfiles(build_model_registry(self.settings)))

    def crawler_context(self) -> CrawlerContext:
        return build_crawler_context(self.settings)

    def egress_policy(self) -> EgressPolicy:
        return self._get("egress_policy", lambda: build_egress_policy(self.settings))

    def crawler_dispatcher(self, routes: Mapping[str, str] | None = None) -> CrawlerDispatcher:
        return build_crawler_dispatcher(routes)

    def close(self) -> None:
        """Close what this container built (clients, stores); injected adapters stay open."""
        with self._lock:
            built, self._built = self._built, {}
        for name, adapter in built.items():
            if name == "embedder":
                continue  # shared by every container of the process (see _shared_embedder)
            close = getattr(adapter, "close", None)
            if callable(close):
                try:
                    close()
                except Exception as error:  # noqa: BLE001 - closing must not hide the caller's own error
                    logger.warning("Closing {} failed: {}", name, error)


# --- The process's current container ----------------------------------------------------------------
_current: Container | None = None
# True when the current container was configured without explicit settings: it then follows
# `get_settings()` (re-read after the environment changes), keeping any injected adapters.
_follows_process_settings = True
_current_lock = threading.Lock()


def configure(settings: Settings | None = None, **adapters: Any) -> Container:
    """Make a container from `settings` (default: the process settings, `get_settings()`) and these
    adapters, bind its stores and make it the process's current one.

    Same settings and no adapters as the current container: the current one is kept (idempotent).
    Anything else replaces it: the old container's own adapters are closed and the new stores bound.
    """
    global _current, _follows_process_settings
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    follows = settings is None
    settings = settings or get_settings()
    opt_out_of_vendor_telemetry(settings)  # every process that wires the project, steps included
    injected = {name: value for name, value in adapters.items() if value is not None}
    with _current_lock:
        current = _current
        if current is not None and not injected and not current.injected and current.settings == settings:
            _follows_process_settings = follows
            return current
        fresh = Container(settings, **injected)
        _current, _follows_process_settings = fresh, follows
    if current is not None:
        current.close()
    fresh.bind_stores()
    _close_at_exit()
    return fresh


@functools.cache
def _close_at_exit() -> None:
    # Close clients while the interpreter is whole: qdrant-client's own __del__ at shutdown prints
    # "Exception ignored ... ImportError" when modules are already gone.
    atexit.register(reset)


def container() -> Container:
    """The current container. Configured from `get_settings()` on first use; rebuilt (keeping injected
    adapters) when it follows the process settings and those changed since."""
    current = _current
    if current is None:
        return configure()
    if _follows_process_settings and current.settings != get_settings():
        return configure(None, **current.injected)
    return current


def override(**adapters: Any) -> Container:
    """The current configuration with some adapters replaced (tests): a new container, its stores rebound."""
    current = _current
    if current is None:
        return configure(None, **adapters)
    merged = {**current.injected, **{name: value for name, value in adapters.items() if value is not None}}
    return configure(None if _follows_process_settings else current.settings, **merged)


def reset() -> None:
    """Close the current container's adapters and unbind the stores (tests, and processes handing the
    embedded Qdrant folder to another process)."""
    global _current, _follows_process_settings
    with _current_lock:
        current, _current, _follows_process_settings = _current, None, True
    if current is not None:
        current.close()
    bind_warehouse(None)
    bind_vector_store(None)


def log_model_evaluation_to_opik(
    run_name: str,
    samples: Sequence[Mapping[str, Any]],
    answers: Mapping[str, Sequence[str | None]],
    scores: Mapping[str, Mapping[str, Sequence[float | None]]],
) -> dict[str, str]:
    """Log an evaluation run to Opik when it is configured (see `infrastructure.opik_evaluation`)."""
    from llm_engineering.infrastructure.opik_evaluation import log_model_evaluation

    return log_model_evaluation(run_name, samples, answers, scores)
