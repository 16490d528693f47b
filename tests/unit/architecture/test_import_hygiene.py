"""Importing the package, its domain and settings must stay light and side-effect free."""

import json
import subprocess
import sys

from tests.conftest import PROJECT_ROOT

PROBE = r"""
import json, socket, sys
opened = []
real_connect = socket.socket.connect
def spy(self, address):
    opened.append(str(address))
    return real_connect(self, address)
socket.socket.connect = spy
import llm_engineering
import llm_engineering.domain.documents, llm_engineering.domain.cleaned_documents
import llm_engineering.domain.chunks, llm_engineering.domain.embedded_chunks, llm_engineering.domain.queries
import llm_engineering.settings, llm_engineering.bootstrap
import llm_engineering.infrastructure.db.mongo, llm_engineering.infrastructure.db.qdrant
from llm_engineering.settings import get_settings
get_settings()
heavy = sorted(m for m in ("torch", "zenml", "transformers", "sentence_transformers", "pymongo", "qdrant_client",
                           "selenium") if m in sys.modules)
print(json.dumps({"heavy": heavy, "sockets": opened}))
"""


def test_import_loads_no_heavy_library_and_opens_no_socket(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        check=False,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"ENV_FILE": str(tmp_path / "none.env"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"heavy": [], "sockets": []}


def test_domain_imports_no_other_layer_or_driver():
    forbidden = (
        "llm_engineering.infrastructure",
        "llm_engineering.application",
        "pymongo",
        "qdrant_client",
        "torch",
        "openai",
        "llm_engineering.settings",
    )
    offenders = []
    for path in (PROJECT_ROOT / "llm_engineering" / "domain").rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")) and any(f" {name}" in stripped for name in forbidden):
                offenders.append(f"{path.name}: {stripped}")
    assert offenders == []
