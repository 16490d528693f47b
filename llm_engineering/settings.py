"""Project settings, read from the environment and `.env` (or the file named by `ENV_FILE`).

Nothing is read at import time: call `get_settings()` where the settings are needed.
Every field has a local default so the whole system runs on one machine with no keys.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.domain.serving import AUTO_MODEL_ID

DEFAULT_ENV_FILE = ".env"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=DEFAULT_ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        env_ignore_empty=True,
    )

    # --- Local data -------------------------------------------------------------------
    LOCAL_DATA_DIR: Path = Field(
        default=Path(".local"),
        description="Where embedded services keep their data (warehouse file, Qdrant folder, models, pids).",
    )
    HANDBOOK_DATA_DIR: Path = Field(
        default=Path("../shared/data/handbook"),
        description=(
            "The book's corpus for `poe run-import-handbook-warehouse`: the warehouse backup the book's GitHub "
            "repository publishes (data/data_warehouse_raw_data), or a folder holding it as `warehouse/`."
        ),
    )

    # --- MongoDB data warehouse --------------------------------------------------------
    DATABASE_HOST: str = "mongodb://127.0.0.1:27017"
    DATABASE_NAME: str = "twin"
    DATABASE_TIMEOUT_S: float = Field(default=5.0, gt=0, le=120)

    # --- Qdrant vector DB (logical feature store) ---------------------------------------
    # Resolution order: USE_QDRANT_CLOUD -> QDRANT_URL -> QDRANT_DATABASE_HOST -> local mode.
    QDRANT_URL: str | None = None
    USE_QDRANT_CLOUD: bool = False
    QDRANT_CLOUD_URL: str | None = None
    QDRANT_APIKEY: SecretStr | None = None
    QDRANT_DATABASE_HOST: str | None = None
    QDRANT_DATABASE_PORT: int = Field(default=6333, ge=1, le=65535)
    QDRANT_LOCAL_PATH: Path | None = Field(
        default=None, description="Folder of the embedded Qdrant store; defaults to LOCAL_DATA_DIR/qdrant."
    )

    # --- RAG models ---------------------------------------------------------------------
    TEXT_EMBEDDING_MODEL_ID: str = "sentence-transformers/all-MiniLM-L6-v2"
    RERANKING_CROSS_ENCODER_MODEL_ID: str = "cross-encoder/ms-marco-MiniLM-L-4-v2"
    RAG_MODEL_DEVICE: str = "cpu"
    EMBEDDING_BATCH_SIZE: int = Field(default=32, ge=1, le=4096)
    # torch threads for encoding: 0 = by process kind (1 in query processes: the API, CLI query tools,
    # latency benches; every core in batch ones: the feature pipeline). See infrastructure/threads.py.
    EMBEDDING_THREADS: int = Field(default=0, ge=0, le=256)
    # What runs the embedding model (feature pipeline and queries alike): openvino = the OpenVINO runtime on
    # an export cached in EMBEDDING_CACHE_DIR (bf16 on CPUs that have it); torch = sentence-transformers fp32;
    # torch-bf16 = the same under bf16 autocast (for GPUs; 1.3x on the CPU here, openvino 2.6x); auto =
    # openvino on the CPU when the runtime is installed and the model exports, else torch (one log line
    # says why). Figures: bench/embeddings.py.
    EMBEDDING_BACKEND: Literal["auto", "torch", "torch-bf16", "openvino"] = "auto"
    EMBEDDING_CACHE_DIR: Path | None = Field(
        default=None, description="Exported embedding models; defaults to LOCAL_DATA_DIR/models/embeddings."
    )

    # --- LLM microservice (any OpenAI-compatible server, or SageMaker) --------------------
    LLM_PROVIDER: Literal["openai", "sagemaker"] = "openai"
    LLM_BASE_URL: str = "http://127.0.0.1:8001/v1"
    # The model id requests carry. `auto` (the default): the served model of `poe serve-model` / the web UI's
    # /models page / continuous training, else the twin's production version, else the packaged base model
    # (gemma-3-270m-twin), followed without a restart. Any other value is used as it is (another server's model).
    LLM_MODEL_ID: str = Field(default=AUTO_MODEL_ID, min_length=1)
    LLM_API_KEY: SecretStr | None = None
    # Seconds one LLM call may take. A call is retried only when the server did not take it (refused, 429,
    # 503), never after a timeout; LLM_TIMEOUT_S x (LLM_MAX_RETRIES + 1) must fit in API_REQUEST_TIMEOUT_S.
    LLM_TIMEOUT_S: float = Field(default=90.0, gt=0)
    LLM_MAX_RETRIES: int = Field(default=2, ge=0, le=10)
    # API requests that call the LLM (/rag, /rag/stream) running at once; the others wait for a slot until
    # their deadline (then 503), so a slow LLM never takes the threads of /retrieve, /ready and the UI.
    LLM_MAX_CONCURRENT_REQUESTS: int = Field(default=4, ge=1, le=256)
    LOCAL_LLM_PORT: int = Field(default=8001, ge=1, le=65535)
    # The engine of `local-llm-up`: llamacpp serves the packaged GGUF as it is (llama-cpp-python, built by
    # scripts/setup.sh); transformers is the fallback (`transformers serve` on a de-quantized copy), also used,
    # with a message, when llama-cpp-python cannot be imported.
    LOCAL_LLM_ENGINE: Literal["llamacpp", "transformers"] = "llamacpp"
    # llama.cpp only: tokens of context per slot (prompt + answer), requests generated at once (the others
    # wait in line), CPU threads shared by the busy slots (0 = the free physical cores, measured while serving).
    LOCAL_LLM_CONTEXT_SIZE: int = Field(default=8192, ge=256, le=131072)
    LOCAL_LLM_PARALLEL: int = Field(default=2, ge=1, le=64)
    LOCAL_LLM_THREADS: int = Field(default=0, ge=0, le=512)
    TEMPERATURE_INFERENCE: float = Field(default=0.01, ge=0, le=2)
    TOP_P_INFERENCE: float = Field(default=0.9, gt=0, le=1)
    MAX_NEW_TOKENS_INFERENCE: int = Field(default=150, ge=1, le=32768)
    # New tokens a /rag reply must have before it may end (sent as `min_tokens`: vLLM and the llama.cpp
    # server honour it). 0: the served twin's card decides (serving.min_new_tokens), else no floor.
    MIN_NEW_TOKENS_INFERENCE: int = Field(default=0, ge=0, le=32768)
    REPETITION_PENALTY_INFERENCE: float = Field(
        default=1.1, gt=0, le=2, description="1.0 means none; servers that do not support it ignore it."
    )

    # --- RAG retrieval and the twin REST API ------------------------------------------------
    RAG_TOP_K: int = Field(default=9, ge=1, le=50)
    RAG_EXPAND_TO_N_QUERIES: int = Field(default=3, ge=1, le=10)
    RAG_MAX_QUERY_CHARS: int = Field(default=2000, ge=16, le=100_000)
    RERANKER: Literal["auto", "cross-encoder", "bi-encoder"] = "auto"
    # hybrid: dense embedding + BM25 keyword vectors fused by reciprocal rank in Qdrant; dense: vectors only.
    RAG_SEARCH_MODE: Literal["hybrid", "dense"] = "hybrid"
    RAG_HYBRID_CANDIDATES: int = Field(default=40, ge=1, le=1000)
    # Documents ranked by their best chunk + this weight x their other chunks' scores; negative (the default)
    # keeps the fused chunk order, which measured better recall@5 on the handbook queries.
    RAG_DOCUMENT_SUPPORT_WEIGHT: float = Field(default=-1.0, le=10)
    # Structured retrieval steps: `auto` probes the LLM once and skips a step it cannot do; `on`/`off` force it.
    RAG_SELF_QUERY: Literal["auto", "on", "off"] = "auto"
    RAG_QUERY_EXPANSION: Literal["auto", "on", "off"] = "auto"
    # An `auto` probe is one short LLM call per step, cut off after this many seconds (no verdict then: the
    # step is skipped and probed again later). Verdicts are cached per model in
    # LOCAL_DATA_DIR/cache/capabilities.json, so a restart asks nothing; true ignores the cache once.
    RAG_CAPABILITY_PROBE_TIMEOUT_S: float = Field(default=20.0, gt=0, le=600)
    RAG_REPROBE_CAPABILITIES: bool = False
    # Passage text put in one prompt; passages beyond it are left out. Unset: the served twin's trained
    # context (its model card's serving.max_context_chars), else 6000.
    RAG_MAX_CONTEXT_CHARS: int | None = Field(default=None, ge=200, le=200_000)
    # The answer guard: a reply that loops or is not grounded in the passages is replaced by the author's
    # own best-matching sentences (`extractive`), or shown as it is (`none`).
    RAG_ANSWER_FALLBACK: Literal["extractive", "none"] = "extractive"
    RAG_MIN_GROUNDING: float = Field(default=0.35, ge=0, le=1)
    API_HOST: str = "127.0.0.1"
    API_PORT: int = Field(default=8000, ge=1, le=65535)
    API_REQUEST_TIMEOUT_S: float = Field(default=300.0, gt=0)
    # The web UI (pages at /, /authors, /models) and its JSON routes under /ui/api.
    API_ENABLE_UI: bool = True
    # When set, UI write requests (starting a crawl) need the header `X-Twin-Token: <token>`; set one when
    # the service listens beyond 127.0.0.1.
    API_UI_TOKEN: SecretStr | None = None

    # --- OpenAI (dataset generation, query expansion, self-query when pointed at OpenAI) --
    OPENAI_MODEL_ID: str = "gpt-4o-mini"
    OPENAI_API_KEY: SecretStr | None = None

    # --- Dataset generation teacher (any OpenAI-compatible server; unset = offline generation) --
    DATASET_GENERATOR_BASE_URL: str | None = None
    # Empty = OPENAI_MODEL_ID.
    DATASET_GENERATOR_MODEL_ID: str | None = None
    # Empty = OPENAI_API_KEY.
    DATASET_GENERATOR_API_KEY: SecretStr | None = None
    DATASET_GENERATOR_MAX_WORKERS: int = Field(default=4, ge=1, le=64)
    # The teacher's context window; prompts are cut to 90% of it (minus the answer's tokens).
    DATASET_GENERATOR_CONTEXT_TOKENS: int = Field(default=16384, ge=1024)
    DATASET_GENERATOR_TIMEOUT_S: float = Field(default=180.0, gt=0)

    # --- Evaluation judge (any OpenAI-compatible server; unset = offline metrics only) -------
    EVALUATION_JUDGE_BASE_URL: str | None = None
    # Empty = OPENAI_MODEL_ID.
    EVALUATION_JUDGE_MODEL_ID: str | None = None
    # Empty = OPENAI_API_KEY.
    EVALUATION_JUDGE_API_KEY: SecretStr | None = None
    EVALUATION_JUDGE_MAX_WORKERS: int = Field(default=4, ge=1, le=64)
    EVALUATION_JUDGE_TIMEOUT_S: float = Field(default=120.0, gt=0)

    # --- Hugging Face ---------------------------------------------------------------------
    HUGGINGFACE_ACCESS_TOKEN: SecretStr | None = None
    HF_MODEL_ID: str = "mlabonne/TwinLlama-3.1-8B-DPO"

    # --- Monitoring -----------------------------------------------------------------------
    COMET_API_KEY: SecretStr | None = None
    COMET_PROJECT: str = "twin"
    # Empty = the API key's default workspace.
    COMET_WORKSPACE: str | None = None
    OPIK_URL_OVERRIDE: str | None = None
    OPIK_PROJECT_NAME: str = "twin"
    # Vendor libraries' own usage analytics and crash reports (ZenML, Opik, Comet, Hugging Face, ...): off
    # unless this is true (see llm_engineering/telemetry.py).
    LLM_TWIN_ALLOW_VENDOR_TELEMETRY: bool = False
    # Prompt monitoring job (poe run-prompt-monitoring): traces sampled, and the change in a mean score
    # between the older and the newer half of them that counts as drift (judge scores 1-3, feedback 0-1).
    MONITORING_SAMPLE_SIZE: int = Field(default=50, ge=2, le=5000)
    MONITORING_SCORE_DRIFT: float = Field(default=0.3, gt=0)
    # Relative change in mean prompt tokens or latency that counts as drift (0.5 = 50%).
    MONITORING_RELATIVE_DRIFT: float = Field(default=0.5, gt=0)

    # --- Crawling -------------------------------------------------------------------------
    LINKEDIN_USERNAME: str | None = None
    LINKEDIN_PASSWORD: SecretStr | None = None
    CHROMEDRIVER_PATH: Path = Path("/usr/bin/chromedriver")
    CHROMIUM_PATH: Path = Path("/usr/bin/chromium")
    LINKEDIN_LOGIN_URL: str = "https://www.linkedin.com/login"
    CRAWL_ALLOW_PRIVATE_NETWORKS: bool = Field(
        default=False,
        description="Let crawlers reach loopback and private-network addresses and clone local repositories "
        "(local fixtures, intranet sites). Off: only the public internet; link-local/metadata stays refused.",
    )
    CRAWL_MAX_WORKERS: int = Field(default=8, ge=1, le=64, description="Links crawled at the same time.")
    CRAWL_PER_DOMAIN_LIMIT: int = Field(default=4, ge=1, le=64, description="Links of one domain at the same time.")
    CRAWL_MAX_BROWSERS: int = Field(default=2, ge=1, le=32, description="Headless Chromiums at the same time.")
    CRAWL_PAGE_TIMEOUT_S: float = Field(default=20.0, gt=0, le=600)
    CRAWL_MAX_PAGE_BYTES: int = Field(default=5_000_000, ge=1_000)
    CRAWL_SCROLL_LIMIT: int = Field(default=5, ge=0, le=100)
    CRAWL_SCROLL_PAUSE_S: float = Field(default=1.0, ge=0, le=30)
    GITHUB_MAX_FILE_BYTES: int = Field(default=1_000_000, ge=1)
    GITHUB_MAX_REPOSITORY_BYTES: int = Field(default=12_000_000, ge=1, le=15_000_000)
    GITHUB_CLONE_TIMEOUT_S: float = Field(default=120.0, gt=0)

    # --- Alerts -----------------------------------------------------------------------------
    # Pipelines post failures (and training/CT successes) to the active ZenML stack's alerter (Slack,
    # Discord, ...) when it has one; otherwise, and as the fallback when it fails, to this JSON-lines file.
    ALERTS_FILE: Path | None = Field(default=None, description="Defaults to LOCAL_DATA_DIR/alerts.jsonl.")

    # --- AWS / SageMaker -------------------------------------------------------------------
    AWS_REGION: str = "eu-central-1"
    AWS_ACCESS_KEY: SecretStr | None = None
    AWS_SECRET_KEY: SecretStr | None = None
    AWS_ARN_ROLE: str | None = None
    GPU_INSTANCE_TYPE: str = "ml.g5.2xlarge"
    SM_NUM_GPUS: int = Field(default=1, ge=0)
    MAX_INPUT_LENGTH: int = Field(default=2048, ge=1)
    MAX_TOTAL_TOKENS: int = Field(default=4096, ge=1)
    MAX_BATCH_TOTAL_TOKENS: int = Field(default=4096, ge=1)
    COPIES: int = Field(default=1, ge=1)
    GPUS: int = Field(default=1, ge=0)
    CPUS: int = Field(default=2, ge=1)
    SAGEMAKER_ENDPOINT_CONFIG_INFERENCE: str = "twin"
    SAGEMAKER_ENDPOINT_INFERENCE: str = "twin"
    # Endpoint deployment (`poe deploy-inference-endpoint`, tools/sagemaker.py).
    SAGEMAKER_ENDPOINT_TYPE: Literal["model", "inference-component"] = "model"
    SAGEMAKER_INFERENCE_COMPONENT: str = Field(default="twin-llm", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    SAGEMAKER_CONTAINER: Literal["tgi", "lmi"] = "tgi"
    # Empty = the Deep Learning Container of SAGEMAKER_CONTAINER for AWS_REGION, at the tag below.
    SAGEMAKER_INFERENCE_IMAGE_URI: str | None = None
    SAGEMAKER_TGI_IMAGE_TAG: str = Field(default="2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04", min_length=1)
    SAGEMAKER_LMI_IMAGE_TAG: str = Field(default="0.31.0-lmi13.0.0-cu124", min_length=1)
    SAGEMAKER_INSTANCE_COUNT: int = Field(default=1, ge=1, le=100)
    SAGEMAKER_STARTUP_TIMEOUT_S: int = Field(default=900, ge=60, le=3600)
    MAX_BATCH_PREFILL_TOKENS: int = Field(default=10000, ge=1)
    HF_MODEL_QUANTIZE: Literal[
        "none", "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4", "eetq", "fp8", "awq", "gptq"
    ] = "bitsandbytes"
    SAGEMAKER_AUTOSCALING: bool = False
    SAGEMAKER_AUTOSCALING_MIN_COPIES: int = Field(default=1, ge=1, le=1000)
    SAGEMAKER_AUTOSCALING_MAX_COPIES: int = Field(default=2, ge=1, le=1000)
    SAGEMAKER_AUTOSCALING_TARGET_INVOCATIONS: float = Field(default=4.0, gt=0, le=1_000_000)
    SAGEMAKER_AUTOSCALING_SCALE_IN_COOLDOWN_S: int = Field(default=300, ge=0, le=86_400)
    SAGEMAKER_AUTOSCALING_SCALE_OUT_COOLDOWN_S: int = Field(default=60, ge=0, le=86_400)
    SAGEMAKER_USER_NAME: str = Field(default="twin-sagemaker-deployer", pattern=r"^[\w+=,.@-]{1,64}$")
    SAGEMAKER_EXECUTION_ROLE_NAME: str = Field(default="twin-sagemaker-execution", pattern=r"^[\w+=,.@-]{1,64}$")

    @field_validator("DATABASE_HOST")
    @classmethod
    def _mongo_uri(cls, value: str) -> str:
        if not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("must be a MongoDB URI starting with mongodb:// or mongodb+srv://")
        return value

    @field_validator(
        "QDRANT_URL", "QDRANT_CLOUD_URL", "LLM_BASE_URL", "DATASET_GENERATOR_BASE_URL", "EVALUATION_JUDGE_BASE_URL"
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @field_validator(
        "QDRANT_URL",
        "QDRANT_CLOUD_URL",
        "QDRANT_DATABASE_HOST",
        "DATASET_GENERATOR_BASE_URL",
        "DATASET_GENERATOR_MODEL_ID",
        "EVALUATION_JUDGE_BASE_URL",
        "EVALUATION_JUDGE_MODEL_ID",
        "COMET_WORKSPACE",
        "RAG_MAX_CONTEXT_CHARS",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("LLM_MODEL_ID")
    @classmethod
    def _auto_model_id(cls, value: str) -> str:
        value = value.strip()
        return AUTO_MODEL_ID if value.lower() == AUTO_MODEL_ID else value

    @model_validator(mode="after")
    def _cloud_needs_url_and_key(self) -> Settings:
        if self.USE_QDRANT_CLOUD and not (self.QDRANT_CLOUD_URL and self.QDRANT_APIKEY):
            raise ValueError("USE_QDRANT_CLOUD=true needs QDRANT_CLOUD_URL and QDRANT_APIKEY")
        return self

    @model_validator(mode="after")
    def _llm_attempts_fit_the_request_deadline(self) -> Settings:
        # Every attempt at an LLM call must be able to end before the API request that made it gives up.
        attempts = self.LLM_MAX_RETRIES + 1
        if self.LLM_TIMEOUT_S * attempts > self.API_REQUEST_TIMEOUT_S:
            raise ValueError(
                f"LLM_TIMEOUT_S ({self.LLM_TIMEOUT_S:g}s) x {attempts} attempts (LLM_MAX_RETRIES={self.LLM_MAX_RETRIES}"
                f" + 1) = {self.LLM_TIMEOUT_S * attempts:g}s must fit in API_REQUEST_TIMEOUT_S "
                f"({self.API_REQUEST_TIMEOUT_S:g}s): lower LLM_TIMEOUT_S or LLM_MAX_RETRIES, or raise "
                "API_REQUEST_TIMEOUT_S"
            )
        return self

    # --- Derived values -------------------------------------------------------------------
    @property
    def configured_llm_model_id(self) -> str | None:
        """LLM_MODEL_ID when it names a model, None when it is `auto` (the served model, see `bootstrap`)."""
        return None if self.LLM_MODEL_ID == AUTO_MODEL_ID else self.LLM_MODEL_ID

    @property
    def qdrant_mode(self) -> Literal["cloud", "server", "local"]:
        if self.USE_QDRANT_CLOUD:
            return "cloud"
        if self.QDRANT_URL or self.QDRANT_DATABASE_HOST:
            return "server"
        return "local"

    @property
    def qdrant_server_url(self) -> str | None:
        """The URL of a Qdrant server, or None in embedded local mode."""
        if self.qdrant_mode == "cloud":
            return self.QDRANT_CLOUD_URL
        if self.QDRANT_URL:
            return self.QDRANT_URL
        if self.QDRANT_DATABASE_HOST:
            return f"http://{self.QDRANT_DATABASE_HOST}:{self.QDRANT_DATABASE_PORT}"
        return None

    @property
    def alerts_file(self) -> Path:
        return self.ALERTS_FILE or self.LOCAL_DATA_DIR / "alerts.jsonl"

    @property
    def qdrant_local_path(self) -> Path:
        return self.QDRANT_LOCAL_PATH or self.LOCAL_DATA_DIR / "qdrant"

    @property
    def embedding_cache_dir(self) -> Path:
        return self.EMBEDDING_CACHE_DIR or self.LOCAL_DATA_DIR / "models" / "embeddings"

    @property
    def warehouse_local_file(self) -> Path:
        """SQLite file behind the embedded MongoDB-compatible server."""
        return self.LOCAL_DATA_DIR / "warehouse" / "twin.sqlite"


def _format_validation_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        if not item["loc"]:
            # A rule across settings: its message names them, and its input is every value read (secrets too).
            lines.append(f"  {item['msg']}")
            continue
        name = ".".join(str(part) for part in item["loc"])
        value = item.get("input")
        # Never echo secrets back into logs.
        shown = "***" if any(word in name for word in ("KEY", "PASSWORD", "TOKEN", "SECRET")) else repr(value)
        lines.append(f"  {name}={shown}: {item['msg']}")
    return "Invalid settings (from the environment or the env file):\n" + "\n".join(lines)


def load_settings(env_file: str | Path | None = None, **overrides: object) -> Settings:
    """Build settings from the environment and an env file; raise ImproperlyConfigured naming bad variables.

    The env file is `env_file`, else `$ENV_FILE`, else `.env` in the working directory.
    """
    chosen = env_file or os.environ.get("ENV_FILE") or DEFAULT_ENV_FILE
    try:
        return Settings(_env_file=chosen, **overrides)  # type: ignore[call-arg]
    except ValidationError as error:
        raise ImproperlyConfigured(_format_validation_error(error)) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, loaded on first use."""
    return load_settings()
