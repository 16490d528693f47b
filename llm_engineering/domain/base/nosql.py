"""A small ODM: pydantic documents that persist themselves through a bound `DocumentWarehouse`.

The warehouse is bound by a composition root (`llm_engineering.bootstrap`) or by tests;
nothing connects at import time.
"""

from __future__ import annotations

import uuid
from abc import ABC
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Self

from pydantic import UUID4, BaseModel, ConfigDict, Field, ValidationError

from llm_engineering.domain.base.ports import DocumentWarehouse, InsertReport
from llm_engineering.domain.exceptions import (
    DuplicateDocumentError,
    ImproperlyConfigured,
    InvalidDocumentError,
)

_binding: dict[str, DocumentWarehouse] = {}


def bind_warehouse(warehouse: DocumentWarehouse | None) -> None:
    """Bind (or unbind, with None) the warehouse every NoSQL document uses."""
    if warehouse is None:
        _binding.pop("warehouse", None)
    else:
        _binding["warehouse"] = warehouse


def bound_warehouse() -> DocumentWarehouse:
    try:
        return _binding["warehouse"]
    except KeyError:
        raise ImproperlyConfigured(
            "No data warehouse is bound. Call llm_engineering.bootstrap.configure() "
            "(or bind_warehouse(...) in tests) before using documents."
        ) from None


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

    # --- Persistence -----------------------------------------------------------------------
    @classmethod
    def _warehouse(cls) -> DocumentWarehouse:
        return bound_warehouse()

    def save(self) -> Self:
        """Insert this document; raise DuplicateDocumentError if its id or a unique field exists."""
        self._warehouse().insert_one(self.get_collection_name(), self.to_mongo())
        return self

    @classmethod
    def get_or_create(cls, **filter_options: Any) -> Self:
        """Return the first document matching the filters, creating it from them when none exists."""
        found = cls.find(**filter_options)
        if found is not None:
            return found
        try:
            return cls(**filter_options).save()
        except DuplicateDocumentError:
            # Another writer created it between our read and write.
            found = cls.find(**filter_options)
            if found is None:
                raise
            return found

    @classmethod
    def bulk_insert(cls, documents: Iterable[Self]) -> InsertReport:
        """Insert documents, skipping those whose id already exists (so re-imports add nothing)."""
        records = [document.to_mongo() for document in documents]
        if not records:
            return InsertReport()
        return cls._warehouse().insert_many(cls.get_collection_name(), records)

    @classmethod
    def find(cls, **filter_options: Any) -> Self | None:
        record = cls._warehouse().find_one(cls.get_collection_name(), _to_filters(filter_options))
        return cls.from_mongo(record) if record else None

    @classmethod
    def bulk_find(cls, limit: int | None = None, **filter_options: Any) -> list[Self]:
        return list(cls.iter_find(limit=limit, **filter_options))

    @classmethod
    def iter_find(cls, limit: int | None = None, **filter_options: Any) -> Iterator[Self]:
        records = cls._warehouse().find(cls.get_collection_name(), _to_filters(filter_options), limit=limit)
        for record in records:
            yield cls.from_mongo(record)

    @classmethod
    def count(cls, **filter_options: Any) -> int:
        return cls._warehouse().count(cls.get_collection_name(), _to_filters(filter_options))

    @classmethod
    def delete(cls, **filter_options: Any) -> int:
        """Delete matching documents; at least one filter is required."""
        if not filter_options:
            raise ValueError("delete() needs at least one filter; refusing to empty the collection.")
        return cls._warehouse().delete_many(cls.get_collection_name(), _to_filters(filter_options))


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
