"""`tools.data_warehouse --import-handbook` on a real nx-27017 warehouse: the folder comes from HANDBOOK_DATA_DIR."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from llm_engineering import settings as settings_module
from llm_engineering.domain.documents import UserDocument
from tools import data_warehouse

pytestmark = pytest.mark.integration


def test_handbook_is_imported_from_the_setting(tmp_path, monkeypatch, documents):
    handbook = tmp_path / "handbook" / "warehouse"
    handbook.mkdir(parents=True)
    user = {"_id": "eff74089-0271-4319-8543-745c087f4f61", "first_name": "Maxime", "last_name": "Labonne"}
    (handbook / "UserDocument.json").write_text(json.dumps([user]))
    monkeypatch.setattr(
        settings_module,
        "get_settings",
        lambda: settings_module.load_settings(env_file=tmp_path / "none.env", HANDBOOK_DATA_DIR=handbook.parent),
    )

    result = CliRunner().invoke(data_warehouse.main, ["--import-handbook"])

    assert result.exit_code == 0, result.output
    assert f"Imported 1 new documents from {handbook}" in result.output
    assert documents.find(UserDocument, first_name="Maxime", last_name="Labonne") is not None
