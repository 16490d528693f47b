"""The container and the process's current one: what entry points ask for their collaborators."""

from __future__ import annotations

import atexit
import functools
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_engineering.bootstrap.builders.aws import (
    aws_session,
    build_endpoint_deployer,
    build_sagemaker_iam,
    build_training_launcher,
    endpoint_spec,
)
from llm_engineering.bootstrap.builders.crawling import (
    build_crawler_context,
    build_crawler_dispatcher,
    build_egress_policy,
)
from llm_engineering.bootstrap.builders.llm import (
    build_dataset_teacher,
    build_evaluation_judge,
    build_llm_client,
    build_probe_memory,
    generation_parameters,
)
from llm_engineering.bootstrap.builders.models import (
    build_dataset_publisher,
    build_experiment_tracker,
    build_gguf_exporter,
    build_model_publisher,
    build_model_registry,
    build_model_serving,
    training_base_model_dir,
)
from llm_engineering.bootstrap.builders.operations import build_alerter, build_tracer, configure_tracing
from llm_engineering.bootstrap.builders.stores import (
    build_embedder,
    build_reranker,
    build_vector_store,
    build_warehouse,
)
from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.domain.base.vector import VectorIndex
from llm_engineering.settings import Settings, get_settings

if TYPE_CHECKING:
    from pathlib import Path

    from llm_engineering.application.crawlers.base import CrawlerContext
    from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
    from llm_engineering.application.crawlers.egress import EgressPolicy
    from llm_engineering.application.datasets.raft import PassageSearch
    from llm_engineering.application.evaluation.judge import LLMJudge
    from llm_engineering.application.llm.client import GenerationParameters, LLMClient
    from llm_engineering.application.operations.alerts import Alerter
    from llm_engineering.application.ports import Embedder
    from llm_engineering.application.rag.answering import AnswerGenerator
    from llm_engineering.application.rag.reranking import Reranker
    from llm_engineering.application.rag.retriever import ContextRetriever
    from llm_engineering.application.serving.served_model import ModelServing
    from llm_engineering.domain.base.ports import DocumentWarehouse, VectorStore
    from llm_engineering.infrastructure.aws.deploy import EndpointSpec, SageMakerEndpointDeployer
    from llm_engineering.infrastructure.aws.roles import SageMakerIam
    from llm_engineering.infrastructure.aws.training.launcher import SageMakerTrainingLauncher
    from llm_engineering.infrastructure.huggingface.datasets import HuggingFaceDatasetPublisher
    from llm_engineering.infrastructure.huggingface.models import HuggingFaceModelPublisher
    from llm_engineering.infrastructure.opik_tracing import OpikTracer
    from llm_engineering.model.gguf_bundle import GGUFExporter
    from llm_engineering.model.registry import ModelRegistry
    from llm_engineering.model.serving_profile import ServingProfiles
    from llm_engineering.model.tracking import ExperimentTracker

# What a test (or an entry point) may hand in instead of the adapter built from settings.
INJECTABLE = ("warehouse", "vector_store", "embedder", "reranker", "llm", "teacher")


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

    def documents(self) -> DocumentRepository:
        """The warehouse's documents (users, articles, posts, repositories), read and written by class."""
        return self._get("documents", lambda: DocumentRepository(self.warehouse()))

    def vector_index(self) -> VectorIndex:
        """The feature store's documents (cleaned documents, embedded chunks), read and written by class."""
        return self._get("vector_index", lambda: VectorIndex(self.vector_store()))

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
            index=self.vector_index(),
            embedder=self.embedder(),
            reranker=self.reranker(),
            self_query=SelfQuery(
                llm, self.documents(), mode=self.settings.RAG_SELF_QUERY, memory=memory, probe_timeout_s=timeout_s
            ),
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

        return self._get("serving_profiles", lambda: ServingProfiles(self.model_registry()))

    def crawler_context(self) -> CrawlerContext:
        """A new crawlers' context (fresh HTTP fetcher) saving into `documents()`; the caller closes its fetcher."""
        return build_crawler_context(self.settings, self.documents())

    def egress_policy(self) -> EgressPolicy:
        return self._get("egress_policy", lambda: build_egress_policy(self.settings))

    def crawler_dispatcher(self, routes: Mapping[str, str] | None = None) -> CrawlerDispatcher:
        return build_crawler_dispatcher(routes)

    # --- Models, evaluation and operations -------------------------------------------------------------
    def model_registry(self) -> ModelRegistry:
        """The local model registry under LOCAL_DATA_DIR/registry (a new handle each call: it reads the folder)."""
        return build_model_registry(self.settings)

    def gguf_exporter(self) -> GGUFExporter:
        """GGUF exports of registered twins (Q8_0, Q4_K_M with llama.cpp's quantizer)."""
        return build_gguf_exporter(self.settings)

    def model_publisher(self) -> HuggingFaceModelPublisher:
        return build_model_publisher(self.settings)

    def training_base_model_dir(self, convert: bool = True) -> Path:
        """The local base model folder, converted from the packaged GGUF on first use when `convert` is set."""
        return training_base_model_dir(self.settings, convert=convert)

    def llm_client_for(self, model_id: str | None) -> LLMClient:
        """A new client of the configured LLM server for `model_id` (None: LLM_MODEL_ID), e.g. a model under
        evaluation; the container's own `llm()` is unchanged."""
        return build_llm_client(
            self.settings.model_copy(update={"LLM_MODEL_ID": model_id or self.settings.LLM_MODEL_ID})
        )

    def evaluation_judge(self) -> LLMJudge | None:
        """The LLM judge of evaluations (a new client each call), or None when EVALUATION_JUDGE_BASE_URL is unset."""
        return build_evaluation_judge(self.settings)

    def experiment_tracker(self, experiment_name: str | None = None) -> ExperimentTracker:
        """A new experiment (Comet ML online with COMET_API_KEY, else an offline archive)."""
        return build_experiment_tracker(self.settings, experiment_name)

    def alerter(self) -> Alerter:
        """The active ZenML stack's alerter, else the alerts file; asked anew (the active stack may change)."""
        return build_alerter(self.settings)

    def tracer(self, tags: list[str] | None = None) -> OpikTracer:
        """Prompt tracing (Opik), configured from these settings; a no-op while Opik is off."""
        return build_tracer(self.settings, tags)

    # --- AWS ---------------------------------------------------------------------------------------------
    def aws_session(self) -> Any:
        return aws_session(self.settings)

    def training_launcher(self, session: Any = None) -> SageMakerTrainingLauncher:
        return build_training_launcher(self.settings, session)

    def endpoint_spec(self, autoscaling: bool | None = None, **overrides: Any) -> EndpointSpec:
        return endpoint_spec(self.settings, autoscaling=autoscaling, **overrides)

    def endpoint_deployer(self, session: Any = None, **options: Any) -> SageMakerEndpointDeployer:
        return build_endpoint_deployer(self.settings, session, **options)

    def sagemaker_iam(self, session: Any = None, progress: Callable[[str], None] = logger.info) -> SageMakerIam:
        return build_sagemaker_iam(self.settings, session, progress)

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
    adapters and make it the process's current one.

    Same settings and no adapters as the current container: the current one is kept (idempotent).
    Anything else replaces it: the old container's own adapters are closed.
    """
    global _current, _follows_process_settings
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    follows = settings is None
    settings = settings or get_settings()
    opt_out_of_vendor_telemetry(settings)  # every process that wires the project, steps included
    configure_tracing(settings)  # where prompt traces go (OPIK_*); nothing imported until a trace
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
    """The current configuration with some adapters replaced (tests): a new container."""
    current = _current
    if current is None:
        return configure(None, **adapters)
    merged = {**current.injected, **{name: value for name, value in adapters.items() if value is not None}}
    return configure(None if _follows_process_settings else current.settings, **merged)


def reset() -> None:
    """Close the current container's adapters and forget it (tests, and processes handing the
    embedded Qdrant folder to another process)."""
    global _current, _follows_process_settings
    with _current_lock:
        current, _current, _follows_process_settings = _current, None, True
    if current is not None:
        current.close()
