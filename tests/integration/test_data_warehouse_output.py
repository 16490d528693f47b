"""`python -m tools.data_warehouse` prints each count once: its table, not the backup module's log lines too."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from tests.cli import run_module

pytestmark = pytest.mark.integration


def test_import_and_export_print_one_summary(tmp_path, mongo_uri):
    backup = tmp_path / "backup"
    backup.mkdir()
    user = {"_id": "eff74089-0271-4319-8543-745c087f4f61", "first_name": "Maxime", "last_name": "Labonne"}
    (backup / "UserDocument.json").write_text(json.dumps([user]))
    env = {
        **os.environ,
        "DATABASE_HOST": mongo_uri,
        "DATABASE_NAME": f"test_{uuid.uuid4().hex[:10]}",
        "ENV_FILE": str(tmp_path / "none.env"),
    }

    def run(*args: str) -> str:
        return run_module("tools.data_warehouse", *args, env=env, with_stderr=True)

    imported = run("--import-raw-data", "--data-dir", str(backup))
    exported = run("--export-raw-data", "--data-dir", str(tmp_path / "export"))

    assert imported.count("UserDocument") == 1, imported
    assert "UserDocument.json" in imported and "1 new" in imported
    assert "Imported 1 new documents" in imported
    assert exported.count("UserDocument") == 1, exported
    assert "Exported to" in exported
