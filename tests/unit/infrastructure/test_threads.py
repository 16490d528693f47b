"""Encoding threads by process kind: one for query processes, every core for batch ones, set on torch now
or the moment it is imported."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from llm_engineering.infrastructure import threads
from tests.conftest import PROJECT_ROOT


def test_threads_by_process_kind_and_setting(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    assert threads.embedding_threads("query") == 1
    assert threads.embedding_threads("batch") == 8
    assert threads.embedding_threads("query", configured=3) == threads.embedding_threads("batch", configured=3) == 3
    with pytest.raises(ValueError):
        threads.embedding_threads("interactive")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        threads.embedding_threads("query", configured=-1)


def test_the_import_hook_runs_once_right_after_the_module_is_imported(tmp_path, monkeypatch):
    (tmp_path / "late_library.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    hook = threads._AfterImport("late_library", lambda module: seen.append(module.LOADED))
    sys.meta_path.insert(0, hook)
    try:
        importlib.import_module("late_library")
        assert seen == [True]
        assert hook not in sys.meta_path  # one-shot: never consulted again
    finally:
        if hook in sys.meta_path:
            sys.meta_path.remove(hook)
        sys.modules.pop("late_library", None)


def test_a_batch_block_in_a_query_process_gets_every_core_then_one_again(monkeypatch):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    try:
        assert threads.use_embedding_threads("query") == 1 and torch.get_num_threads() == 1
        with threads.embedding_threads_for("batch") as inside:
            assert inside == 2 and torch.get_num_threads() == 2
            assert threads.chosen_embedding_threads() == 2
        assert torch.get_num_threads() == 1 and threads.chosen_embedding_threads() == 1
    finally:
        torch.set_num_threads(before)


PROBE = """
import json, sys
from llm_engineering.entrypoints.api import create_app
create_app(warm_up_on_start=False)  # a query process: the API
loaded_by_app = "torch" in sys.modules
import torch
query = torch.get_num_threads()
from llm_engineering.infrastructure.threads import use_embedding_threads
use_embedding_threads("batch", 3)
print(json.dumps({"loaded_by_app": loaded_by_app, "query": query, "batch": torch.get_num_threads()}))
"""


def test_the_api_sets_one_thread_without_importing_torch(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        check=False,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"ENV_FILE": str(tmp_path / "none.env"), "PATH": "/usr/bin:/bin", "LOCAL_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"loaded_by_app": False, "query": 1, "batch": 3}
