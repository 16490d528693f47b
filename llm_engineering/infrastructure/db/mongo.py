"""MongoDB adapter of the data warehouse (works with MongoDB and the embedded `nx-27017` server).

pymongo errors are translated into the domain's exceptions here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llm_engineering.domain.base.ports import Filters, InsertReport
from llm_engineering.domain.exceptions import (
    DuplicateDocumentError,
    WarehouseOperationError,
    WarehouseUnavailableError,
)

if TYPE_CHECKING:
    from pymongo import MongoClient
    from pymongo.database import Database

START_HINT = "poetry poe local-infrastructure-up"
DUPLICATE_KEY = 11000


def redact_uri(uri: str) -> str:
    """The URI with any password replaced, safe to print."""
    return re.sub(r"(//[^:/@]+:)[^@]+@", r"\1***@", uri)


class MongoWarehouse:
    """A `DocumentWarehouse` over one MongoDB database. The client connects on first use."""

    def __init__(
        self,
        uri: str,
        database_name: str,
        timeout_s: float = 5.0,
        unique_fields: Mapping[str, Sequence[str]] | None = None,
        client: MongoClient | None = None,
    ):
        self.uri = uri
        self.database_name = database_name
        self.timeout_s = timeout_s
        # Unique indexes are created lazily, on the first write to each collection.
        self.unique_fields = {name: tuple(fields) for name, fields in (unique_fields or {}).items()}
        self._indexed: set[str] = set()
        self._client = client

    def _prepare(self, collection: str) -> None:
        if collection in self._indexed:
            return
        for field_name in self.unique_fields.get(collection, ()):
            self.ensure_unique_index(collection, field_name)
        self._indexed.add(collection)

    # --- Connection ------------------------------------------------------------------------
    @property
    def client(self) -> MongoClient:
        if self._client is None:
            from pymongo import MongoClient

            timeout_ms = int(self.timeout_s * 1000)
            self._client = MongoClient(
                self.uri,
                serverSelectionTimeoutMS=timeout_ms,
                connectTimeoutMS=timeout_ms,
                socketTimeoutMS=max(timeout_ms * 6, 30_000),
                uuidRepresentation="standard",
            )
        return self._client

    @property
    def database(self) -> Database:
        return self.client[self.database_name]

    def ping(self) -> None:
        """Raise WarehouseUnavailableError unless the server answers within the timeout."""
        with self._translated():
            self.client.admin.command("ping")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def unavailable_error(self, cause: Exception | str) -> WarehouseUnavailableError:
        return WarehouseUnavailableError(
            f"Cannot reach the MongoDB data warehouse at {redact_uri(self.uri)} within {self.timeout_s:g}s "
            f"({str(cause).splitlines()[0][:200]}). Start the local one with `{START_HINT}` "
            f"(or `nx-27017 --db .local/warehouse/twin.sqlite -p 27017 -d`), or set DATABASE_HOST."
        )

    @functools.cached_property
    def _errors(self) -> Any:
        from pymongo import errors

        return errors

    def _translated(self) -> _ErrorTranslation:
        return _ErrorTranslation(self)

    # --- DocumentWarehouse -------------------------------------------------------------------
    def insert_one(self, collection: str, document: dict[str, Any]) -> None:
        self._prepare(collection)
        with self._translated():
            self.database[collection].insert_one(document)

    def insert_many(self, collection: str, documents: Sequence[dict[str, Any]]) -> InsertReport:
        if not documents:
            return InsertReport()
        self._prepare(collection)
        ids = [str(document["_id"]) for document in documents]
        with self._translated():
            existing = {
                str(record["_id"])
                for record in self.database[collection].find({"_id": {"$in": ids}}, projection={"_id": 1})
            }
        fresh = [document for document in documents if str(document["_id"]) not in existing]
        skipped = [i for i in ids if i in existing]
        inserted = [str(document["_id"]) for document in fresh]
        if not fresh:
            return InsertReport(inserted=[], skipped_existing=skipped)
        try:
            with self._translated():
                self.database[collection].insert_many(fresh, ordered=False)
        except _BulkDuplicates as duplicates:
            # Unique-key clashes (same link under another id, or a concurrent writer) are skipped, not lost.
            duplicate_ids = duplicates.ids
            inserted = [i for i in inserted if i not in duplicate_ids]
            skipped.extend(i for i in duplicate_ids if i not in skipped)
        return InsertReport(inserted=inserted, skipped_existing=skipped)

    def find_one(self, collection: str, filters: Filters) -> dict[str, Any] | None:
        with self._translated():
            return self.database[collection].find_one(_mongo_filter(filters))

    def find(self, collection: str, filters: Filters, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Stream matching records; errors while iterating are translated too."""
        with self._translated():
            cursor = self.database[collection].find(_mongo_filter(filters), batch_size=500)
            if limit:
                cursor = cursor.limit(limit)
            yield from cursor

    def count(self, collection: str, filters: Filters) -> int:
        with self._translated():
            return int(self.database[collection].count_documents(_mongo_filter(filters)))

    def delete_many(self, collection: str, filters: Filters) -> int:
        with self._translated():
            return int(self.database[collection].delete_many(_mongo_filter(filters)).deleted_count)

    def ensure_unique_index(self, collection: str, field_name: str) -> None:
        with self._translated():
            self.database[collection].create_index(field_name, unique=True, name=f"unique_{field_name}")

    def collection_names(self) -> list[str]:
        with self._translated():
            return sorted(self.database.list_collection_names())

    def drop_database(self) -> None:
        with self._translated():
            self.client.drop_database(self.database_name)


class _BulkDuplicates(Exception):
    def __init__(self, ids: list[str]):
        super().__init__(f"{len(ids)} duplicate keys")
        self.ids = ids


class _ErrorTranslation:
    """Context manager turning pymongo errors into domain errors."""

    def __init__(self, warehouse: MongoWarehouse):
        self.warehouse = warehouse

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if exc is None:
            return False
        errors = self.warehouse._errors
        if isinstance(exc, errors.BulkWriteError):
            write_errors = exc.details.get("writeErrors", [])
            if write_errors and all(error.get("code") == DUPLICATE_KEY for error in write_errors):
                ids = [str(error.get("op", {}).get("_id")) for error in write_errors]
                raise _BulkDuplicates(ids) from exc
            raise WarehouseOperationError(f"Bulk write failed: {write_errors[:3]}") from exc
        if isinstance(exc, errors.DuplicateKeyError):
            raise DuplicateDocumentError(str(exc).splitlines()[0][:300]) from exc
        if isinstance(exc, errors.ServerSelectionTimeoutError | errors.ConnectionFailure):
            raise self.warehouse.unavailable_error(exc) from exc
        if isinstance(exc, errors.PyMongoError):
            raise WarehouseOperationError(str(exc).splitlines()[0][:300]) from exc
        return False


def _mongo_filter(filters: Filters) -> dict[str, Any]:
    """Equality filters; list values mean `$in`."""
    query: dict[str, Any] = {}
    for key, value in filters.items():
        if isinstance(value, list | tuple | set):
            query[key] = {"$in": list(value)}
        elif isinstance(value, Mapping):
            query[key] = dict(value)  # already an operator expression
        else:
            query[key] = value
    return query
