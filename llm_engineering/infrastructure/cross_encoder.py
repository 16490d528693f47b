"""sentence-transformers cross-encoder adapter of the application's `Reranker` port.

Weights are resolved offline by `model_weights` (a folder or the hub cache); no package ships the
book's `cross-encoder/ms-marco-MiniLM-L-4-v2`, so offline the composition root falls back to the
bi-encoder reranker and says so.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llm_engineering.infrastructure.model_weights import resolve_local_weights

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder


def resolve_cross_encoder(model_id: str) -> str | None:
    """A local source for the cross-encoder: a folder holding `config.json`, or a complete hub-cache snapshot."""
    source = resolve_local_weights(model_id)
    return source if source is not None and (Path(source) / "config.json").is_file() else None


class CrossEncoderReranker:
    """A cross-encoder loaded lazily from a local folder; scores squashed to 0..1 with a sigmoid."""

    def __init__(self, model_id: str, source: str, device: str = "cpu"):
        self.model_id = model_id
        self.source = source
        self.device = device
        self._model: CrossEncoder | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"cross-encoder:{self.model_id}"

    def _load(self) -> CrossEncoder:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import CrossEncoder

                    self._model = CrossEncoder(self.source, device=self.device)
                    self._model.model.eval()
        return self._model

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        model = self._load()
        with self._lock:  # one forward pass at a time: the tokenizer is not thread-safe
            logits = model.predict([(query, text) for text in texts], show_progress_bar=False)
        # ms-marco cross-encoders return raw logits; the sigmoid gives the 0..1 scores the book describes.
        return [1.0 / (1.0 + math.exp(-float(value))) for value in logits]
