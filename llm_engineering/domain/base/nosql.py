"""A small ODM: pydantic documents and the repository that stores them in a `DocumentWarehouse`.

A document knows its collection and its stored shape; `DocumentRepository` reads and writes documents of
any class through the warehouse it is given. A composition root (`llm_engineering.bootstrap`) builds the
repository and hands it to the use cases that need it; nothing is bound process-wide and nothing connects
at import time.
"""

from __future__ import annotations

import uuid
from abc import ABC
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Self, TypeVar

from pydantic import UUID4, BaseModel, ConfigDict, Field, ValidationError

from llm_engineering.domain.base.ports import DocumentWarehouse, InsertReport
from llm_engineering.domain.exceptions import (
    DuplicateDocumentError,
    ImproperlyConfigured,
    InvalidDocumentError,
)


class NoSQLBaseDocument(BaseModel, ABC):
    """Base of every warehouse document. Ids are UUID4, stored as strings under `_id`."""

    model_config = ConfigDict(populate_by_name=True)

    id: UUID4 = Field(default_factory=uuid.uuid4)

    # Subclasses define `class Settings: name = "<collection>"`.
    Settings: ClassVar[type]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, self.__class__) and self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)

    # --- Mapping ---------------------------------------------------------------------------
    @classmethod
    def from_mongo(cls, data: dict[str, Any]) -> Self:
        """Build a document from a stored record (`_id` becomes `id`)."""
        if not data:
            raise InvalidDocumentError(f"{cls.__name__}: data is empty.")
        record = dict(data)
        if "_id" in record:
            record["id"] = record.pop("_id")
        try:
            return cls.model_validate(record)
        except ValidationError as error:
            raise InvalidDocumentError(f"{cls.__name__}: {error}") from error

    def to_mongo(self, **kwargs: Any) -> dict[str, Any]:
        """The record to store: JSON-compatible values, `id` stored as string `_id`."""
        record = self.model_dump(mode="json", by_alias=True, **kwargs)
        if "id" in record:
            record["_id"] = str(record.pop("id"))
        return record

    @classmethod
    def get_collection_name(cls) -> str:
        settings = getattr(cls, "Settings", None)
        name = getattr(settings, "name", None)
        if not name:
            raise ImproperlyConfigured(
                f"{cls.__name__} must define a nested `Settings` class with the collection `name`."
            )
        return str(name)

    @classmethod
    def unique_fields(cls) -> tuple[str, ...]:
        """Fields with a unique index in the warehouse (from `Settings.unique`)."""
        return tuple(getattr(getattr(cls, "Settings", None), "unique", ()))


D = TypeVar("D", bound=NoSQLBaseDocument)


class DocumentRepository:
    """The documents of a warehouse, by class: saves, finds, counts and deletes them."""

    def __init__(self, warehouse: DocumentWarehouse):
        self.warehouse = warehouse

    def __repr__(self) -> str:
        return f"DocumentRepository({type(self.warehouse).__name__})"

    def save(self, document: D) -> D:
        """Insert `document`; raise DuplicateDocumentError if its id or a unique field exists."""
        self.warehouse.insert_one(document.get_collection_name(), document.to_mongo())
        return document

    def get_or_create(self, document_class: type[D], **filter_options: Any) -> D:
        """The first document matching the filters, created from them when none exists."""
        found = self.find(document_class, **filter_options)
        if found is not None:
            return found
        try:
            return self.save(document_class(**filter_options))
        except DuplicateDocumentError:
            # Another writer created it between our read and write.
            found = self.find(document_class, **filter_options)
            if found is None:
                raise
            return found

    def bulk_insert(self, document_class: type[D], documents: Iterable[D]) -> InsertReport:
        """Insert documents, skipping those whose id already exists (so re-imports add nothing)."""
        records = [document.to_mongo() for document in documents]
        if not records:
            return InsertReport()
        return self.warehouse.insert_many(document_class.get_collection_name(), records)

    def find(self, document_class: type[D], **filter_options: Any) -> D | None:
        record = self.warehouse.find_one(document_class.get_collection_name(), _to_filters(filter_options))
        return document_class.from_mongo(record) if record else None

    def bulk_find(self, document_class: type[D], limit: int | None = None, **filter_options: Any) -> list[D]:
        return list(self.iter_find(document_class, limit=limit, **filter_options))

    def iter_find(self, document_class: type[D], limit: int | None = None, **filter_options: Any) -> Iterator[D]:
        collection = document_class.get_collection_name()
        for record in self.warehouse.find(collection, _to_filters(filter_options), limit=limit):
            yield document_class.from_mongo(record)

    def count(self, document_class: type[D], **filter_options: Any) -> int:
        return self.warehouse.count(document_class.get_collection_name(), _to_filters(filter_options))

    def delete(self, document_class: type[D], **filter_options: Any) -> int:
        """Delete matching documents; at least one filter is required."""
        if not filter_options:
            raise ValueError("delete() needs at least one filter; refusing to empty the collection.")
        return self.warehouse.delete_many(document_class.get_collection_name(), _to_filters(filter_options))


def _to_filters(filter_options: dict[str, Any]) -> dict[str, Any]:
    """Keyword filters to stored-record filters: `id` becomes `_id`, UUIDs become strings."""
    filters: dict[str, Any] = {}
    for key, value in filter_options.items():
        stored_key = "_id" if key == "id" else key
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, list | tuple | set):
            value = [str(item) if isinstance(item, uuid.UUID) else item for item in value]
        filters[stored_key] = value
    return filters
