"""The served-model record on disk: written atomically, read per request for one `stat`, a change by another
process seen on the next read, an unreadable file ignored."""

from __future__ import annotations

import json
import os

import pytest

from llm_engineering.application.errors import ServedModelError
from llm_engineering.domain.serving import ServedModelChoice
from llm_engineering.infrastructure.served_model_store import JsonServedModelStore


def _choice(version: int) -> ServedModelChoice:
    return ServedModelChoice(
        spec=f"llm_twin:v{version}", model_id=f"llm_twin-v{version}", chosen_at="2026-01-01T00:00:00+00:00", by="cli"
    )


def test_no_file_is_no_choice_and_a_written_one_reads_back(tmp_path):
    store = JsonServedModelStore(tmp_path / "models" / "served.json")
    assert store.read() is None
    store.write(_choice(2))
    assert store.read() == _choice(2)
    on_disk = json.loads((tmp_path / "models" / "served.json").read_text())
    assert on_disk == {
        "spec": "llm_twin:v2",
        "model_id": "llm_twin-v2",
        "chosen_at": "2026-01-01T00:00:00+00:00",
        "by": "cli",
        "reason": "",
    }
    assert [path.name for path in (tmp_path / "models").iterdir()] == ["served.json"]  # no staging file left


def test_a_change_by_another_process_is_seen_on_the_next_read(tmp_path):
    path = tmp_path / "served.json"
    api, cli = JsonServedModelStore(path), JsonServedModelStore(path)
    cli.write(_choice(1))
    assert api.read() == _choice(1)
    cli.write(_choice(2))  # a new file renamed into place: a new inode, so the cache cannot hold on to v1
    assert api.read() == _choice(2)


def test_reads_are_cached_on_the_files_identity(tmp_path, monkeypatch):
    store = JsonServedModelStore(tmp_path / "served.json")
    store.write(_choice(1))
    assert store.read() == _choice(1)
    opened = []
    monkeypatch.setattr(type(store.path), "read_bytes", lambda self: opened.append(self) or b"")
    for _ in range(100):
        assert store.read() == _choice(1)
    assert opened == []


def test_an_unreadable_record_is_ignored(tmp_path):
    path = tmp_path / "served.json"
    path.write_text("{not json")
    assert JsonServedModelStore(path).read() is None
    path.write_text(json.dumps({"spec": "llm_twin:v1"}))  # no model id
    assert JsonServedModelStore(path).read() is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_folder_that_cannot_be_written_is_a_served_model_error(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ServedModelError, match="Cannot record the served model"):
            JsonServedModelStore(folder / "served.json").write(_choice(1))
    finally:
        folder.chmod(0o700)


def test_a_path_that_is_a_file_is_a_served_model_error(tmp_path):
    (tmp_path / "models").write_text("not a folder")
    with pytest.raises(ServedModelError, match="Cannot record the served model"):
        JsonServedModelStore(tmp_path / "models" / "served.json").write(_choice(1))
