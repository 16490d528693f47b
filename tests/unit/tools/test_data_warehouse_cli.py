"""`tools.data_warehouse --import-handbook`: where the book's corpus is looked for, and what a user without it does."""

from __future__ import annotations

from click.testing import CliRunner

from llm_engineering import settings as settings_module
from tools import data_warehouse


def test_handbook_folder_is_the_backup_itself_or_holds_it_as_warehouse(tmp_path):
    assert data_warehouse.handbook_backup_dir(tmp_path / "absent") is None
    assert data_warehouse.handbook_backup_dir(tmp_path) is None  # empty folder
    (tmp_path / "UserDocument.json").write_text("[]")
    assert data_warehouse.handbook_backup_dir(tmp_path) == tmp_path
    (tmp_path / "warehouse").mkdir()
    assert data_warehouse.handbook_backup_dir(tmp_path) == tmp_path / "warehouse"


def test_missing_handbook_says_what_it_is_and_what_to_do(tmp_path, monkeypatch):
    missing = tmp_path / "no-handbook"
    monkeypatch.setattr(
        settings_module,
        "get_settings",
        lambda: settings_module.load_settings(env_file=tmp_path / "none.env", HANDBOOK_DATA_DIR=missing),
    )

    result = CliRunner().invoke(data_warehouse.main, ["--import-handbook"])

    assert result.exit_code == 1
    message = result.output
    assert f"The book's corpus is not in {missing}" in message
    assert "https://github.com/PacktPublishing/LLM-Engineers-Handbook" in message
    assert "data/data_warehouse_raw_data" in message and "2 authors, 76 articles" in message
    assert "run-import-handbook-warehouse --dir" in message and "HANDBOOK_DATA_DIR" in message
    assert "poe quickstart" in message and "digital_data_etl_template.yaml" in message


def test_missing_plain_backup_folder_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(data_warehouse.main, ["--import-raw-data", "--data-dir", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "backup folder not found" in result.output and "--import-handbook" in result.output


def test_one_action_only(tmp_path):
    result = CliRunner().invoke(data_warehouse.main, ["--import-handbook", "--export-raw-data"])
    assert result.exit_code == 2 and "exactly one" in result.output
