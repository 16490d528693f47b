"""Warehouse JSON backup: idempotent import of the book's corpus and a lossless round trip."""

import json
import shutil
import subprocess
import sys
import uuid

import pytest

from llm_engineering.application.errors import BackupValidationError
from llm_engineering.application.warehouse.backup import export_warehouse, import_warehouse
from llm_engineering.domain.documents import ArticleDocument, UserDocument
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration


def _records(folder):
    return {path.name: sorted(json.loads(path.read_text()), key=lambda r: r["_id"]) for path in folder.glob("*.json")}


def test_handbook_import_twice_then_round_trip(warehouse, documents, handbook_warehouse_dir, tmp_path):
    first = import_warehouse(documents, handbook_warehouse_dir)
    assert (documents.count(UserDocument), documents.count(ArticleDocument)) == (2, 76)
    assert first.inserted == 78

    second = import_warehouse(documents, handbook_warehouse_dir)
    assert second.inserted == 0 and second.skipped_existing == 78
    assert (documents.count(UserDocument), documents.count(ArticleDocument)) == (2, 76)

    exported = tmp_path / "export"
    counts = export_warehouse(documents, exported)
    assert counts["ArticleDocument.json"] == 76 and counts["UserDocument.json"] == 2
    original = _records(handbook_warehouse_dir)
    assert _records(exported) == original

    # Into an empty database: everything comes back, equal record for record.
    warehouse.drop_database()
    import_warehouse(documents, exported)
    again = tmp_path / "again"
    export_warehouse(documents, again)
    assert _records(again) == original


def test_bad_records_are_reported_with_file_and_index_and_nothing_is_written(documents, tmp_path):
    good_user = {"_id": str(uuid.uuid4()), "first_name": "A", "last_name": "B"}
    (tmp_path / "UserDocument.json").write_text(json.dumps([good_user]))
    articles = [
        {
            "_id": str(uuid.uuid4()),
            "content": {},
            "platform": "p",
            "author_id": good_user["_id"],
            "author_full_name": "A B",
            "link": "https://ok",
        },
        {
            "_id": str(uuid.uuid4()),
            "content": {},
            "platform": "p",
            "author_id": "nope",
            "author_full_name": "A B",
            "link": "https://bad",
        },
        "not an object",
    ]
    (tmp_path / "ArticleDocument.json").write_text(json.dumps(articles))
    with pytest.raises(BackupValidationError) as info:
        import_warehouse(documents, tmp_path)
    message = str(info.value)
    assert "ArticleDocument.json[1]" in message and "author_id" in message
    assert "ArticleDocument.json[2]" in message
    assert documents.count(UserDocument) == 0 and documents.count(ArticleDocument) == 0


def test_broken_json_file_is_reported(documents, tmp_path):
    (tmp_path / "UserDocument.json").write_text("[{")
    with pytest.raises(BackupValidationError, match=r"UserDocument.json: not readable JSON"):
        import_warehouse(documents, tmp_path)


def test_cli_import_and_export(mongo_uri, handbook_warehouse_dir, tmp_path):
    database = f"cli_{uuid.uuid4().hex[:8]}"
    env = {
        "DATABASE_HOST": mongo_uri,
        "DATABASE_NAME": database,
        "ENV_FILE": str(tmp_path / "none.env"),
        "PATH": "/usr/bin:/bin",
    }
    data = tmp_path / "data"
    shutil.copytree(handbook_warehouse_dir, data)

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "tools.data_warehouse", *args],
            check=False,
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    first = run("--import-raw-data", "--data-dir", str(data))
    assert first.returncode == 0, first.stderr
    assert "Imported 78 new documents" in first.stdout
    second = run("--import-raw-data", "--data-dir", str(data))
    assert "Imported 0 new documents" in second.stdout and "76 already stored" in second.stdout
    exported = run("--export-raw-data", "--data-dir", str(tmp_path / "out"))
    assert exported.returncode == 0 and "76 records" in exported.stdout
    (data / "UserDocument.json").write_text('[{"first_name": "x"}]')
    broken = run("--import-raw-data", "--data-dir", str(data))
    assert broken.returncode == 1 and "UserDocument.json[0]" in broken.stderr
    usage = run("--import-raw-data", "--export-raw-data")
    assert usage.returncode == 2 and "exactly one" in usage.stderr
