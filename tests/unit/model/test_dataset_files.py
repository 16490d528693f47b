"""Dataset files: the book's export format, our JSON dump, and the JSONL/Parquet export folder round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_engineering.application.errors import DatasetFileError
from llm_engineering.domain.datasets import (
    CategoryDataset,
    DatasetType,
    GenerationMethod,
    InstructDatasetSample,
    InstructionSource,
    PreferenceDatasetSample,
    Provenance,
    TrainTestSplit,
)
from llm_engineering.domain.types import DataCategory
from llm_engineering.model.dataset_files import (
    export_columns,
    export_split,
    load_book_dataset,
    load_dataset_source,
    load_split_folder,
)

ARTICLES, POSTS = DataCategory.ARTICLES, DataCategory.POSTS
IMPORTED = Provenance(method=GenerationMethod.IMPORTED, instruction_source=InstructionSource.IMPORTED)
TEACHER = Provenance(
    document_id="doc-1",
    document_link="https://example.com/a",
    author_full_name="Paul Iusztin",
    extract_start=0,
    extract_end=42,
    method=GenerationMethod.TEACHER,
    instruction_source=InstructionSource.TEACHER,
    model_id="gpt-4o-mini",
)
BACK_TRANSLATED = Provenance(
    document_id="doc-2",
    extract_start=10,
    extract_end=99,
    method=GenerationMethod.BACK_TRANSLATION,
    instruction_source=InstructionSource.TEMPLATE,
)


def instruct_split() -> TrainTestSplit:
    def dataset(category: DataCategory, *samples: InstructDatasetSample) -> CategoryDataset:
        return CategoryDataset(dataset_type=DatasetType.INSTRUCTION, category=category, samples=list(samples))

    return TrainTestSplit(
        dataset_type=DatasetType.INSTRUCTION,
        train={
            ARTICLES: dataset(
                ARTICLES,
                InstructDatasetSample(
                    instruction="Explain RAG.", answer="RAG retrieves, then writes.", provenance=TEACHER
                ),
                InstructDatasetSample(instruction="Ünïcode “quotes”?", answer="Yes: 日本語.\nTwo lines."),
            ),
            POSTS: dataset(
                POSTS, InstructDatasetSample(instruction="Post idea?", answer="Ship it.", provenance=BACK_TRANSLATED)
            ),
        },
        test={
            ARTICLES: dataset(ARTICLES, InstructDatasetSample(instruction="Define LoRA.", answer="Low-rank adapters.")),
            POSTS: dataset(POSTS),
        },
        test_split_size=0.25,
    )


def preference_split() -> TrainTestSplit:
    def dataset(category: DataCategory, *samples: PreferenceDatasetSample) -> CategoryDataset:
        return CategoryDataset(dataset_type=DatasetType.PREFERENCE, category=category, samples=list(samples))

    sample = PreferenceDatasetSample(instruction="Explain DPO.", chosen="It's simple.", rejected="DPO is...")
    return TrainTestSplit(
        dataset_type=DatasetType.PREFERENCE,
        train={
            ARTICLES: dataset(ARTICLES, sample.model_copy(update={"provenance": TEACHER})),
            POSTS: dataset(POSTS, sample),
        },
        test={POSTS: dataset(POSTS, sample.model_copy(update={"instruction": "Explain PPO."}))},
        test_split_size=0.05,
    )


def book_export(samples_per_split: dict[str, list[dict]], **extra) -> dict:
    return {
        "id": "12f3bff8",
        **{
            name: {"articles": {"id": f"{name}-id", "category": "articles", "samples": samples}}
            for name, samples in samples_per_split.items()
        },
        **extra,
    }


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- load_book_dataset ------------------------------------------------------------------------------------
def test_loads_the_books_instruct_export(tmp_path):
    data = book_export(
        {
            "train": [
                {"id": "a", "instruction": "Explain RAG.", "answer": "It retrieves."},
                {"id": "b", "instruction": "Define LoRA.", "answer": "Low-rank adapters."},
            ],
            "test": [{"id": "c", "instruction": "Describe DPO.", "answer": "Preferences."}],
        },
        test_split_size=0.1,
    )
    split = load_book_dataset(write_json(tmp_path / "instruct_datasets.json", data))

    assert split == TrainTestSplit(
        dataset_type=DatasetType.INSTRUCTION,
        train={
            ARTICLES: CategoryDataset(
                dataset_type=DatasetType.INSTRUCTION,
                category=ARTICLES,
                samples=[
                    InstructDatasetSample(instruction="Explain RAG.", answer="It retrieves.", provenance=IMPORTED),
                    InstructDatasetSample(instruction="Define LoRA.", answer="Low-rank adapters.", provenance=IMPORTED),
                ],
            )
        },
        test={
            ARTICLES: CategoryDataset(
                dataset_type=DatasetType.INSTRUCTION,
                category=ARTICLES,
                samples=[
                    InstructDatasetSample(instruction="Describe DPO.", answer="Preferences.", provenance=IMPORTED)
                ],
            )
        },
        test_split_size=0.1,
    )


def test_loads_the_books_preference_export_and_infers_its_type(tmp_path):
    triple = {"id": "x", "instruction": "Explain DPO.", "rejected": "Generated.", "chosen": "Extracted."}
    data = {"artifact_data": book_export({"train": [triple, triple], "test": [triple]}, test_split_size=0.05)}
    split = load_book_dataset(write_json(tmp_path / "preference.json", data))

    assert split.dataset_type == DatasetType.PREFERENCE
    assert split.counts() == {"train": {"articles": 2}, "test": {"articles": 1}}
    assert split.test_split_size == 0.05
    assert split.test[ARTICLES].samples == [
        PreferenceDatasetSample(instruction="Explain DPO.", chosen="Extracted.", rejected="Generated.")
    ]


def test_test_split_size_is_observed_when_missing(tmp_path):
    pair = {"instruction": "Explain RAG.", "answer": "It retrieves."}
    split = load_book_dataset(write_json(tmp_path / "d.json", book_export({"train": [pair] * 3, "test": [pair]})))
    assert split.test_split_size == 0.25


def test_loads_our_own_json_dump(tmp_path):
    original = preference_split()
    path = tmp_path / "dump.json"
    path.write_text(original.model_dump_json(), encoding="utf-8")

    assert load_book_dataset(path) == original
    assert (
        load_book_dataset(write_json(tmp_path / "wrapped.json", {"artifact_data": original.model_dump(mode="json")}))
        == original
    )


def test_an_explicit_type_that_does_not_match_is_an_error(tmp_path):
    pair = {"instruction": "Explain RAG.", "answer": "It retrieves."}
    path = write_json(tmp_path / "d.json", book_export({"train": [pair], "test": []}))
    with pytest.raises(DatasetFileError, match=r"d\.json: holds instruction samples, not preference"):
        load_book_dataset(path, DatasetType.PREFERENCE)


def test_an_empty_export_needs_an_explicit_type(tmp_path):
    path = write_json(tmp_path / "empty.json", book_export({"train": [], "test": []}))
    with pytest.raises(DatasetFileError, match="pass dataset_type"):
        load_book_dataset(path)
    split = load_book_dataset(path, DatasetType.INSTRUCTION)
    assert split.counts() == {"train": {"articles": 0}, "test": {"articles": 0}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not readable as JSON"),
        ("[1, 2]", "expected a JSON object, found list"),
        ('{"foo": 1}', "neither a book dataset export"),
        (json.dumps(book_export({"train": [{"instruction": "x", "reply": "y"}]})), "fits no dataset type"),
        (json.dumps(book_export({"train": [{"instruction": " ", "answer": "y"}]})), "train/articles sample 0"),
        (json.dumps({"train": {"videos": {"samples": []}}}), "unknown category 'videos'"),
    ],
)
def test_bad_files_raise_a_value_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as caught:
        load_book_dataset(path, DatasetType.INSTRUCTION if "videos" in content else None)
    assert str(path) in str(caught.value)


def test_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(DatasetFileError, match="no such file"):
        load_book_dataset(tmp_path / "absent.json")


# --- export_split / load_split_folder -----------------------------------------------------------------------
@pytest.mark.parametrize("make_split", [instruct_split, preference_split])
def test_jsonl_round_trip_is_lossless(tmp_path, make_split):
    original = make_split()
    written = export_split(original, tmp_path)

    folder = tmp_path / original.artifact_name
    assert written == {
        "jsonl": [folder / "train.jsonl", folder / "test.jsonl"],
        "info": [folder / "dataset_info.json"],
    }
    assert load_split_folder(folder) == original
    assert load_split_folder(tmp_path) == original  # the folder holding the single artifact folder


@pytest.mark.parametrize("make_split", [instruct_split, preference_split])
def test_parquet_round_trip_is_lossless(tmp_path, make_split):
    original = make_split()
    written = export_split(original, tmp_path, formats=("parquet",))

    folder = tmp_path / original.artifact_name
    assert written["parquet"] == [folder / "train.parquet", folder / "test.parquet"]
    assert sorted(path.name for path in folder.iterdir()) == ["dataset_info.json", "test.parquet", "train.parquet"]
    assert load_split_folder(folder) == original


def test_rows_hold_hf_columns_provenance_and_category(tmp_path):
    export_split(instruct_split(), tmp_path)
    lines = (tmp_path / "instruct_datasets" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]

    assert list(rows[0]) == export_columns(DatasetType.INSTRUCTION)
    assert export_columns(DatasetType.INSTRUCTION)[:2] == ["instruction", "output"]
    assert rows[0] == {
        "instruction": "Explain RAG.",
        "output": "RAG retrieves, then writes.",
        "provenance_document_id": "doc-1",
        "provenance_document_link": "https://example.com/a",
        "provenance_author_full_name": "Paul Iusztin",
        "provenance_extract_start": 0,
        "provenance_extract_end": 42,
        "provenance_method": "teacher",
        "provenance_instruction_source": "teacher",
        "provenance_model_id": "gpt-4o-mini",
        "category": "articles",
    }
    assert [row["category"] for row in rows] == ["articles", "articles", "posts"]
    assert rows[1]["instruction"] == "Ünïcode “quotes”?"  # written as UTF-8, not \u escapes
    assert "Ünïcode" in lines[1]


def test_dataset_info_describes_the_export(tmp_path):
    export_split(preference_split(), tmp_path, formats=("jsonl", "parquet"))
    info = json.loads((tmp_path / "preference_datasets" / "dataset_info.json").read_text())

    created_at = info.pop("created_at")
    assert created_at.endswith("+00:00")
    assert info == {
        "artifact_name": "preference_datasets",
        "dataset_type": "preference",
        "test_split_size": 0.05,
        "num_samples": {"train": 2, "test": 1},
        "counts": {"train": {"articles": 1, "posts": 1}, "test": {"posts": 1}},
        "columns": export_columns(DatasetType.PREFERENCE),
        "hf_columns": ["prompt", "chosen", "rejected"],
        "formats": ["jsonl", "parquet"],
    }


def test_jsonl_is_preferred_over_parquet(tmp_path):
    export_split(instruct_split(), tmp_path, formats=("jsonl", "parquet"))
    folder = tmp_path / "instruct_datasets"
    (folder / "train.parquet").write_bytes(b"not parquet")  # would fail if it were read
    assert load_split_folder(folder) == instruct_split()


def test_a_new_export_replaces_the_previous_one(tmp_path):
    export_split(instruct_split(), tmp_path, formats=("jsonl", "parquet"))
    smaller = instruct_split().model_copy(update={"test": {}})
    export_split(smaller, tmp_path)

    folder = tmp_path / "instruct_datasets"
    assert sorted(path.name for path in folder.iterdir()) == ["dataset_info.json", "test.jsonl", "train.jsonl"]
    assert [path.name for path in tmp_path.iterdir()] == ["instruct_datasets"]  # no staging folder left
    assert load_split_folder(folder) == smaller


def test_an_unknown_format_is_an_error(tmp_path):
    with pytest.raises(DatasetFileError, match="Unknown export format"):
        export_split(instruct_split(), tmp_path, formats=("csv",))
    assert list(tmp_path.iterdir()) == []


def test_a_partial_copy_is_detected(tmp_path):
    export_split(instruct_split(), tmp_path)
    train = tmp_path / "instruct_datasets" / "train.jsonl"
    train.write_text(train.read_text().splitlines()[0] + "\n")
    with pytest.raises(DatasetFileError, match="partial copy"):
        load_split_folder(train.parent)


def test_a_folder_without_info_is_read_from_its_rows(tmp_path):
    folder = tmp_path / "handmade"
    folder.mkdir()
    (folder / "train.jsonl").write_text(
        json.dumps({"prompt": "Explain DPO.", "chosen": "Simple.", "rejected": "Complex."}) + "\n\n"
    )
    (folder / "test.jsonl").write_text("")
    split = load_split_folder(folder)

    assert split == TrainTestSplit(
        dataset_type=DatasetType.PREFERENCE,
        train={
            ARTICLES: CategoryDataset(
                dataset_type=DatasetType.PREFERENCE,
                category=ARTICLES,
                samples=[PreferenceDatasetSample(instruction="Explain DPO.", chosen="Simple.", rejected="Complex.")],
            )
        },
        test={},
        test_split_size=0.0,
    )


def test_a_bad_row_names_the_file_and_line(tmp_path):
    export_split(instruct_split(), tmp_path)
    train = tmp_path / "instruct_datasets" / "train.jsonl"
    train.write_text(train.read_text() + "{broken\n")
    with pytest.raises(DatasetFileError, match=r"train\.jsonl:4: not valid JSON"):
        load_split_folder(train.parent)


def test_several_artifacts_need_a_choice(tmp_path):
    export_split(instruct_split(), tmp_path)
    export_split(preference_split(), tmp_path)
    with pytest.raises(DatasetFileError, match="several dataset exports \\(instruct_datasets, preference_datasets\\)"):
        load_split_folder(tmp_path)
    assert load_split_folder(tmp_path / "preference_datasets") == preference_split()


# --- load_dataset_source ----------------------------------------------------------------------------------
def test_load_dataset_source_reads_a_file_or_a_folder(tmp_path):
    original = preference_split()
    dump = tmp_path / "dump.json"
    dump.write_text(original.model_dump_json(), encoding="utf-8")
    export_split(original, tmp_path / "exports")

    assert load_dataset_source(dump) == original
    assert load_dataset_source(tmp_path / "exports") == original
    assert load_dataset_source(tmp_path / "exports" / "preference_datasets") == original


def test_load_dataset_source_explains_what_it_cannot_read(tmp_path):
    export_split(instruct_split(), tmp_path)
    with pytest.raises(ValueError, match="no such file or folder"):
        load_dataset_source(tmp_path / "absent")
    with pytest.raises(ValueError, match="is one split of an export; pass its folder"):
        load_dataset_source(tmp_path / "instruct_datasets" / "train.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no dataset export"):
        load_dataset_source(tmp_path / "empty")


def test_mixing_adds_train_samples_only_and_keeps_the_authors_test_split():
    from llm_engineering.application.datasets.splitting import mix_in_train_samples
    from llm_engineering.domain.datasets import CategoryDataset, DatasetType, InstructDatasetSample, TrainTestSplit
    from llm_engineering.domain.types import DataCategory

    def split(prefix: str, train: int, test: int, category: DataCategory) -> TrainTestSplit:
        def part(count: int, name: str) -> dict:
            samples = [
                InstructDatasetSample(instruction=f"{prefix} {name} {i}?", answer=f"{prefix} answer {name} {i}.")
                for i in range(count)
            ]
            return {category: CategoryDataset(dataset_type=DatasetType.INSTRUCTION, category=category, samples=samples)}

        return TrainTestSplit(dataset_type=DatasetType.INSTRUCTION, train=part(train, "train"), test=part(test, "test"))

    author = split("author", 3, 2, DataCategory.ARTICLES)
    public = split("public", 10, 5, DataCategory.POSTS)

    mixed = mix_in_train_samples(author, public, max_samples=4, seed=1)

    assert mixed.num_samples("train") == 7 and mixed.counts()["train"]["posts"] == 4
    assert mixed.test == author.test
    assert mix_in_train_samples(author, public, max_samples=4, seed=1) == mixed  # seeded
    assert mix_in_train_samples(author, public, max_samples=0, seed=1).num_samples("train") == 3
