"""Fine-tuning datasets on disk: the book's exported JSON, and our own export folder (JSONL, Parquet).

Three formats come in:
- the book's export (`instruct_datasets.json`, `preference_datasets.json`):
  `{"id", "train": {<category>: {"id", "category", "samples": [...]}}, "test": {...}, "test_split_size"}`,
  optionally wrapped as `{"artifact_data": {...}}` by the export-artifact pipeline;
- our `TrainTestSplit.model_dump_json()` (it has a `dataset_type` key);
- the folder `export_split` writes: `<artifact_name>/{train,test}.jsonl` (and/or `.parquet`), one row per
  sample with the Hugging Face columns, the provenance columns and `category`, plus `dataset_info.json`.

`datasets` (Parquet writing) and `pyarrow` (Parquet reading) are imported only when Parquet is used.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from llm_engineering.application.errors import DatasetFileError
from llm_engineering.domain.datasets import (
    CategoryDataset,
    DatasetSample,
    DatasetType,
    GenerationMethod,
    InstructDatasetSample,
    InstructionSource,
    PreferenceDatasetSample,
    Provenance,
    TrainTestSplit,
    sample_type,
)
from llm_engineering.domain.types import DataCategory

EXPORT_FORMATS: tuple[str, ...] = ("jsonl", "parquet")
INFO_FILE = "dataset_info.json"
SPLIT_NAMES: tuple[Literal["train", "test"], ...] = ("train", "test")
CATEGORY_COLUMN = "category"

_IMPORTED = Provenance(method=GenerationMethod.IMPORTED, instruction_source=InstructionSource.IMPORTED)


# --- The book's export and our JSON dump -------------------------------------------------------------------
def load_book_dataset(path: str | Path, dataset_type: DatasetType | None = None) -> TrainTestSplit:
    """A `TrainTestSplit` from the book's exported dataset JSON (type inferred from the sample keys when
    `dataset_type` is None), from `{"artifact_data": ...}` around it, or from our `model_dump_json()`.

    Imported samples get an `imported` provenance; the book's sample ids are not kept.
    Raises `DatasetFileError` naming the file and the problem.
    """
    path = Path(path)
    data = _read_json(path)
    if isinstance(data, dict) and "artifact_data" in data:
        data = data["artifact_data"]
    if not isinstance(data, dict):
        raise DatasetFileError(f"{path}: expected a JSON object, found {type(data).__name__}")
    if "dataset_type" in data:
        try:
            split = TrainTestSplit.model_validate(data)
        except ValidationError as error:
            raise DatasetFileError(f"{path}: not a valid TrainTestSplit: {error}") from error
        if dataset_type is not None and split.dataset_type != DatasetType(dataset_type):
            raise DatasetFileError(f"{path}: holds a {split.dataset_type} dataset, not {DatasetType(dataset_type)}")
        return split
    if "train" not in data:
        raise DatasetFileError(f"{path}: neither a book dataset export (no `train`) nor a TrainTestSplit")
    return _from_book_export(path, data, dataset_type)


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise DatasetFileError(f"{path}: no such file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise DatasetFileError(f"{path}: not readable as JSON: {error}") from error


def _from_book_export(path: Path, data: Mapping[str, Any], dataset_type: DatasetType | None) -> TrainTestSplit:
    found = _infer_book_type(path, data)
    if dataset_type is None and found is None:
        raise DatasetFileError(f"{path}: no samples to tell the dataset type from; pass dataset_type")
    if dataset_type is not None and found is not None and found != DatasetType(dataset_type):
        raise DatasetFileError(f"{path}: holds {found} samples, not {DatasetType(dataset_type)}")
    kind = DatasetType(dataset_type or found)
    splits: dict[str, dict[DataCategory, CategoryDataset]] = {}
    for name in SPLIT_NAMES:
        entries = data.get(name) or {}
        if not isinstance(entries, Mapping):
            raise DatasetFileError(f"{path}: `{name}` should map categories to datasets")
        splits[name] = {}
        for key, entry in entries.items():
            if not isinstance(entry, Mapping):
                raise DatasetFileError(f"{path}: {name}/{key} should be an object with `samples`")
            category = _category(f"{path}: {name}/{key}", entry.get("category") or key)
            samples = [
                _book_sample(kind, raw, f"{path}: {name}/{key} sample {index}")
                for index, raw in enumerate(entry.get("samples") or [])
            ]
            splits[name][category] = CategoryDataset(dataset_type=kind, category=category, samples=samples)
    test_split_size = data.get("test_split_size")
    if test_split_size is None:
        test_split_size = _observed_test_fraction(splits)
    try:
        return TrainTestSplit(dataset_type=kind, test_split_size=test_split_size, **splits)
    except ValidationError as error:
        raise DatasetFileError(f"{path}: {error}") from error


def _infer_book_type(path: Path, data: Mapping[str, Any]) -> DatasetType | None:
    """The type of the first sample: `chosen` and `rejected` make a preference sample, `answer` (or
    `output`) an instruct one; None when there is no sample."""
    for name in SPLIT_NAMES:
        entries = data.get(name) or {}
        for entry in entries.values() if isinstance(entries, Mapping) else []:
            for raw in (entry.get("samples") or []) if isinstance(entry, Mapping) else []:
                keys = set(raw) if isinstance(raw, Mapping) else set()
                if {"chosen", "rejected"} <= keys:
                    return DatasetType.PREFERENCE
                if keys & {"answer", "output"}:
                    return DatasetType.INSTRUCTION
                raise DatasetFileError(f"{path}: a {name} sample with keys {sorted(keys)} fits no dataset type")
    return None


def _book_sample(dataset_type: DatasetType, raw: Any, where: str) -> DatasetSample:
    if not isinstance(raw, Mapping):
        raise DatasetFileError(f"{where}: expected an object, found {type(raw).__name__}")
    try:
        if dataset_type == DatasetType.INSTRUCTION:
            answer = raw.get("answer", raw.get("output"))
            return InstructDatasetSample(instruction=raw.get("instruction"), answer=answer, provenance=_IMPORTED)
        return PreferenceDatasetSample(
            instruction=raw.get("instruction", raw.get("prompt")),
            chosen=raw.get("chosen"),
            rejected=raw.get("rejected"),
            provenance=_IMPORTED,
        )
    except ValidationError as error:
        raise DatasetFileError(f"{where}: {_first_error(error)}") from error


# --- Our export folder ------------------------------------------------------------------------------------
def export_columns(dataset_type: DatasetType) -> list[str]:
    """The columns of an exported row: Hugging Face columns, provenance columns, `category`."""
    return [*sample_type(dataset_type).HF_COLUMNS, *Provenance().as_columns(), CATEGORY_COLUMN]


def export_split(
    split: TrainTestSplit, folder: str | Path, formats: Sequence[str] = ("jsonl",)
) -> dict[str, list[Path]]:
    """Write `folder/<artifact_name>/{train,test}.<format>` and `dataset_info.json`, replacing a previous
    export of the same artifact only once the new one is complete.

    Returns the written paths per format, plus `"info"`: `[dataset_info.json]`.
    """
    formats = list(dict.fromkeys(formats))
    unknown = [name for name in formats if name not in EXPORT_FORMATS]
    if unknown or not formats:
        raise DatasetFileError(f"Unknown export format(s) {unknown or formats}: choose from {list(EXPORT_FORMATS)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / split.artifact_name
    staging = Path(tempfile.mkdtemp(prefix=f".{split.artifact_name}.tmp-", dir=folder))
    try:
        names = _write_export(split, staging, formats)
        _replace_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {key: [target / name for name in files] for key, files in names.items()}


def _write_export(split: TrainTestSplit, folder: Path, formats: list[str]) -> dict[str, list[str]]:
    columns = export_columns(split.dataset_type)
    names: dict[str, list[str]] = {name: [] for name in formats}
    for split_name in SPLIT_NAMES:
        rows = list(_export_rows(split, split_name))
        if "jsonl" in formats:
            with (folder / f"{split_name}.jsonl").open("w", encoding="utf-8") as file:
                file.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
            names["jsonl"].append(f"{split_name}.jsonl")
        if "parquet" in formats:
            _write_parquet(rows, columns, folder / f"{split_name}.parquet")
            names["parquet"].append(f"{split_name}.parquet")
    info = {
        "artifact_name": split.artifact_name,
        "dataset_type": str(split.dataset_type),
        "test_split_size": split.test_split_size,
        "num_samples": {name: split.num_samples(name) for name in SPLIT_NAMES},
        "counts": split.counts(),
        "columns": columns,
        "hf_columns": list(sample_type(split.dataset_type).HF_COLUMNS),
        "formats": formats,
        "created_at": datetime.now(UTC).isoformat(),
    }
    (folder / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return {**names, "info": [INFO_FILE]}


def _export_rows(split: TrainTestSplit, name: Literal["train", "test"]) -> Iterable[dict[str, Any]]:
    for category, dataset in sorted(split.split(name).items()):
        for sample in dataset.samples:
            yield {**sample.to_row(with_provenance=True), CATEGORY_COLUMN: str(category)}


def _write_parquet(rows: list[dict[str, Any]], columns: list[str], path: Path) -> None:
    from datasets import Dataset, Features, Value

    # Explicit types, so a column that is empty in this export (all None) still has its real type.
    integer_columns = {
        f"provenance_{name}" for name, info in Provenance.model_fields.items() if info.annotation in (int, int | None)
    }
    features = Features({name: Value("int64" if name in integer_columns else "string") for name in columns})
    table = {name: [row.get(name) for row in rows] for name in columns}
    Dataset.from_dict(table, features=features).to_parquet(str(path))


def _replace_folder(staging: Path, target: Path) -> None:
    """Move the finished export into place; the old one is removed only after the rename."""
    if target.exists() and not target.is_dir():
        raise DatasetFileError(f"{target}: exists and is not a folder")
    previous = None
    if target.exists():
        previous = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        target.rename(previous)
    staging.rename(target)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def load_split_folder(folder: str | Path) -> TrainTestSplit:
    """Read back what `export_split` wrote: the artifact folder itself, or a folder holding exactly one
    artifact folder. JSONL is preferred; Parquet is read when a split has only that. Categories,
    provenance and `test_split_size` are restored from the rows and `dataset_info.json`."""
    folder = _artifact_folder(Path(folder))
    info = _read_json(folder / INFO_FILE) if (folder / INFO_FILE).exists() else {}
    if not isinstance(info, dict):
        raise DatasetFileError(f"{folder / INFO_FILE}: expected a JSON object")
    rows = {name: _read_rows(folder, name) for name in SPLIT_NAMES}
    if "dataset_type" in info:
        dataset_type = DatasetType(info["dataset_type"])
    elif any(rows.values()):
        first = next(row for split_rows in rows.values() for row in split_rows)
        dataset_type = DatasetType.PREFERENCE if "chosen" in first else DatasetType.INSTRUCTION
    else:
        raise DatasetFileError(f"{folder}: no {INFO_FILE} and no rows to tell the dataset type from")
    splits = {name: _category_datasets(folder, dataset_type, name, rows[name], info) for name in SPLIT_NAMES}
    test_split_size = info.get("test_split_size")
    if test_split_size is None:
        test_split_size = _observed_test_fraction(splits)
    try:
        split = TrainTestSplit(dataset_type=dataset_type, test_split_size=test_split_size, **splits)
    except ValidationError as error:
        raise DatasetFileError(f"{folder}: {error}") from error
    expected = info.get("counts")
    if expected is not None and split.counts() != expected:
        raise DatasetFileError(f"{folder}: rows {split.counts()} differ from {INFO_FILE} {expected} (partial copy?)")
    return split


def _artifact_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise DatasetFileError(f"{folder}: no such folder")
    if _is_export(folder):
        return folder
    children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and _is_export(p))
    if len(children) == 1:
        return children[0]
    if not children:
        raise DatasetFileError(f"{folder}: holds no dataset export ({INFO_FILE}, train.jsonl or train.parquet)")
    names = ", ".join(child.name for child in children)
    raise DatasetFileError(f"{folder}: holds several dataset exports ({names}); point at one of them")


def _is_export(folder: Path) -> bool:
    return any((folder / name).is_file() for name in (INFO_FILE, "train.jsonl", "train.parquet"))


def _read_rows(folder: Path, name: str) -> list[dict[str, Any]]:
    jsonl, parquet = folder / f"{name}.jsonl", folder / f"{name}.parquet"
    if jsonl.is_file():
        return _read_jsonl(jsonl)
    if parquet.is_file():
        import pyarrow.parquet

        try:
            return pyarrow.parquet.read_table(parquet).to_pylist()
        except (OSError, ValueError) as error:
            raise DatasetFileError(f"{parquet}: not readable as Parquet: {error}") from error
    raise DatasetFileError(f"{folder}: has neither {jsonl.name} nor {parquet.name}")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as error:
                raise DatasetFileError(f"{path}:{number}: not valid JSON: {error}") from error
            if not isinstance(row, dict):
                raise DatasetFileError(f"{path}:{number}: expected an object, found {type(row).__name__}")
            rows.append(row)
    return rows


def _category_datasets(
    folder: Path, dataset_type: DatasetType, name: str, rows: list[dict[str, Any]], info: Mapping[str, Any]
) -> dict[DataCategory, CategoryDataset]:
    kind = sample_type(dataset_type)
    grouped: dict[DataCategory, list[DatasetSample]] = {
        _category(f"{folder / INFO_FILE}: counts.{name}", key): [] for key in (info.get("counts") or {}).get(name, {})
    }
    for index, row in enumerate(rows):
        where = f"{folder}: {name} row {index}"
        category = _category(where, row.get(CATEGORY_COLUMN) or DataCategory.ARTICLES)
        try:
            grouped.setdefault(category, []).append(kind.from_row(row))
        except (KeyError, ValidationError) as error:
            problem = f"missing column {error}" if isinstance(error, KeyError) else _first_error(error)
            raise DatasetFileError(f"{where}: {problem}") from error
    return {
        category: CategoryDataset(dataset_type=dataset_type, category=category, samples=samples)
        for category, samples in grouped.items()
    }


# --- Either ------------------------------------------------------------------------------------------------
def load_dataset_source(path: str | Path) -> TrainTestSplit:
    """A dataset from a file (the book's export or our JSON dump) or from an export folder (the artifact
    folder or the folder holding it). Raises `DatasetFileError` when the path is neither."""
    path = Path(path)
    if path.is_dir():
        return load_split_folder(path)
    if not path.exists():
        raise DatasetFileError(f"{path}: no such file or folder")
    if path.suffix in (".jsonl", ".parquet"):
        raise DatasetFileError(f"{path}: is one split of an export; pass its folder {path.parent}")
    return load_book_dataset(path)


# --- Shared -----------------------------------------------------------------------------------------------
def _category(where: str, value: Any) -> DataCategory:
    try:
        return DataCategory(value)
    except ValueError as error:
        raise DatasetFileError(f"{where}: unknown category {value!r}") from error


def _observed_test_fraction(splits: Mapping[str, Mapping[DataCategory, CategoryDataset]]) -> float:
    train = sum(dataset.num_samples for dataset in splits["train"].values())
    test = sum(dataset.num_samples for dataset in splits["test"].values())
    return round(test / (train + test), 4) if train + test else 0.0


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "sample"
    return f"{location}: {first['msg']}"
