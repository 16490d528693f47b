"""Export and import the data warehouse as JSON: one `<ClassName>.json` list per document class.

Import validates every record before writing anything, and skips records whose id is already stored,
so a re-import adds nothing and a bad file never leaves a partial import behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from llm_engineering.application.errors import BackupValidationError
from llm_engineering.domain.base.nosql import DocumentRepository, NoSQLBaseDocument
from llm_engineering.domain.documents import WAREHOUSE_DOCUMENT_CLASSES
from llm_engineering.domain.exceptions import InvalidDocumentError


@dataclass
class ClassImportReport:
    file: str
    records: int
    inserted: int
    skipped_existing: int


@dataclass
class ImportReport:
    classes: list[ClassImportReport] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)

    @property
    def inserted(self) -> int:
        return sum(item.inserted for item in self.classes)

    @property
    def skipped_existing(self) -> int:
        return sum(item.skipped_existing for item in self.classes)


def _classes_by_name() -> dict[str, type[NoSQLBaseDocument]]:
    return {cls.__name__: cls for cls in WAREHOUSE_DOCUMENT_CLASSES}


def export_warehouse(documents: DocumentRepository, data_dir: Path) -> dict[str, int]:
    """Write every document of `documents` to `data_dir/<ClassName>.json`; return the count per file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, cls in _classes_by_name().items():
        records = sorted(
            (document.to_mongo() for document in documents.iter_find(cls)), key=lambda record: record["_id"]
        )
        path = data_dir / f"{name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(path)  # never leave a half-written backup file
        counts[path.name] = len(records)
        logger.info("Exported {} {} records to {}", len(records), name, path)
    return counts


def load_backup(data_dir: Path) -> tuple[dict[type[NoSQLBaseDocument], list[NoSQLBaseDocument]], list[str]]:
    """Read and validate a backup folder; raise BackupValidationError listing every bad record."""
    if not data_dir.is_dir():
        raise FileNotFoundError(f"Backup folder not found: {data_dir}")
    classes = _classes_by_name()
    documents: dict[type[NoSQLBaseDocument], list[NoSQLBaseDocument]] = {}
    problems: list[str] = []
    ignored: list[str] = []
    for path in sorted(data_dir.glob("*.json")):
        cls = classes.get(path.stem)
        if cls is None:
            ignored.append(path.name)
            continue
        try:
            records = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            problems.append(f"{path.name}: not readable JSON: {error}")
            continue
        if not isinstance(records, list):
            problems.append(f"{path.name}: expected a JSON list of records, got {type(records).__name__}")
            continue
        parsed: list[NoSQLBaseDocument] = []
        seen_ids: set[str] = set()
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                problems.append(f"{path.name}[{index}]: expected an object, got {type(record).__name__}")
                continue
            try:
                document = cls.from_mongo(record)
            except InvalidDocumentError as error:
                problems.append(f"{path.name}[{index}]: {_first_lines(error)}")
                continue
            if str(document.id) in seen_ids:
                problems.append(f"{path.name}[{index}]: duplicate _id {document.id} within the file")
                continue
            seen_ids.add(str(document.id))
            parsed.append(document)
        documents[cls] = parsed
    if problems:
        raise BackupValidationError(problems)
    return documents, ignored


def import_warehouse(documents: DocumentRepository, data_dir: Path) -> ImportReport:
    """Validate the whole backup, then insert into `documents` what is not stored yet (users first, so
    authors exist)."""
    backup, ignored = load_backup(data_dir)
    report = ImportReport(ignored_files=ignored)
    for cls in WAREHOUSE_DOCUMENT_CLASSES:  # users first
        if cls not in backup:
            continue
        batch = backup[cls]
        result = documents.bulk_insert(cls, batch)
        report.classes.append(
            ClassImportReport(
                file=f"{cls.__name__}.json",
                records=len(batch),
                inserted=len(result.inserted),
                skipped_existing=len(result.skipped_existing),
            )
        )
        logger.info(
            "Imported {}: {} new, {} already stored", cls.__name__, len(result.inserted), len(result.skipped_existing)
        )
    return report


def _first_lines(error: Exception, limit: int = 3) -> str:
    return " | ".join(str(error).splitlines()[:limit])
