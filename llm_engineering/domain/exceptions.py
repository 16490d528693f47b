"""The exception hierarchy. Infrastructure translates library errors into these."""


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
