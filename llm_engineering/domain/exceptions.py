"""The domain's exception hierarchy: the project's base error and what the business rules raise.

Every layer's own errors derive from `LLMTwinError` (see `application/errors.py`,
`infrastructure/errors.py`); infrastructure translates library errors into these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llm_engineering.domain.crawling import CrawlErrorKind


class LLMTwinError(Exception):
    """Base class of every error the project raises on purpose."""


class ImproperlyConfigured(LLMTwinError):
    """A class, setting or binding is missing or wrong."""


class InvalidDocumentError(LLMTwinError, ValueError):
    """Data cannot be turned into a domain document."""


class DuplicateDocumentError(LLMTwinError):
    """A document with the same id (or unique key) is already stored."""


class WarehouseUnavailableError(LLMTwinError):
    """The MongoDB data warehouse cannot be reached."""


class WarehouseOperationError(LLMTwinError):
    """The data warehouse refused or failed an operation."""


class VectorStoreUnavailableError(LLMTwinError):
    """The Qdrant vector store cannot be reached or opened."""


class VectorStoreLockedError(VectorStoreUnavailableError):
    """Qdrant local mode: another process holds the storage folder."""


class VectorStoreOperationError(LLMTwinError):
    """The vector store refused or failed an operation."""


class VectorStoreSchemaError(VectorStoreOperationError):
    """A collection exists with a layout the caller cannot use (e.g. no sparse keyword index)."""


class CrawlError(LLMTwinError):
    """A link could not be crawled. `kind` classifies it; the message is the reason recorded for the link."""

    def __init__(self, kind: CrawlErrorKind, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
