"""Dispatchers: pick the handler for a document's data category from the handler registries.

A new category needs a handler class and one registry entry per stage, nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loguru import logger

from llm_engineering.application.errors import UnsupportedCategoryError
from llm_engineering.application.ports import Embedder
from llm_engineering.application.preprocessing.chunking_data_handlers import CHUNKING_HANDLERS, ChunkingDataHandler
from llm_engineering.application.preprocessing.cleaning_data_handlers import CLEANING_HANDLERS
from llm_engineering.application.preprocessing.embedding_data_handlers import EMBEDDING_HANDLERS
from llm_engineering.domain.base.vector import VectorBaseDocument
from llm_engineering.domain.chunks import Chunk
from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.domain.documents import Document
from llm_engineering.domain.types import DataCategory


def _handler_class(registry: dict[DataCategory, Any], category: DataCategory, stage: str) -> Any:
    try:
        return registry[category]
    except KeyError:
        known = ", ".join(sorted(str(key) for key in registry))
        raise UnsupportedCategoryError(f"No {stage} handler for category {category!r} (known: {known}).") from None


class CleaningDispatcher:
    """Cleans raw warehouse documents of any content category."""

    @classmethod
    def dispatch(cls, document: Document) -> CleanedDocument:
        handler = _handler_class(CLEANING_HANDLERS, document.get_category(), "cleaning")()
        cleaned = handler.clean(document)
        logger.trace("Cleaned {} {}: {} characters", document.get_category(), document.id, len(cleaned.content))
        return cleaned


class ChunkingDispatcher:
    """Chunks cleaned documents within the embedder's input length."""

    def __init__(self, embedder: Embedder):
        self.max_tokens = embedder.max_input_tokens
        self.count_tokens = embedder.count_tokens
        self._handlers: dict[DataCategory, ChunkingDataHandler] = {}

    def handler(self, category: DataCategory) -> ChunkingDataHandler:
        if category not in self._handlers:
            handler_class = _handler_class(CHUNKING_HANDLERS, category, "chunking")
            self._handlers[category] = handler_class(self.max_tokens, self.count_tokens)
        return self._handlers[category]

    def dispatch(self, document: CleanedDocument) -> list[Chunk]:
        chunks = self.handler(document.get_category()).chunk(document)
        logger.trace("Chunked {} {} into {} chunks", document.get_category(), document.id, len(chunks))
        return chunks


class EmbeddingDispatcher:
    """Embeds chunks (or queries) of one category in one batched call."""

    def __init__(self, embedder: Embedder, batch_size: int | None = None):
        self.embedder = embedder
        self.batch_size = batch_size

    def dispatch(self, items: Sequence[VectorBaseDocument]) -> list[Any]:
        if not items:
            return []
        categories = {item.get_category() for item in items}
        if len(categories) > 1:
            raise ValueError(f"Embed one category per call, got {sorted(map(str, categories))}.")
        handler_class = _handler_class(EMBEDDING_HANDLERS, categories.pop(), "embedding")
        return handler_class(self.embedder, self.batch_size).embed_batch(items)
