"""Which model an LLM client talks to, as a key under which to remember what was learnt about it (the
capability probes' verdicts): the server's base URL, the model id and a fingerprint of the model itself.

The fingerprints:
- for a model served from this machine out of LOCAL_DATA_DIR/models (a folder, or a GGUF file): its
  files, the small ones by content and the large ones (weights) by size, modification time and their
  first and last 64 KiB. Milliseconds for a 1 GB model, where hashing it whole would cost seconds at
  every start; a rewritten file counts as a new model.
- for any OpenAI-compatible server, local or not: its `GET /models` entry for the model (fields that
  change from call to call, such as `created`, left out), or the ids it lists;
- neither (SageMaker): the endpoint and model id alone.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from llm_engineering.application.llm.client import LLMClient
from llm_engineering.infrastructure.local.processes import LOOPBACK_HOSTS

SMALL_FILE_BYTES = 1 << 20
SAMPLE_BYTES = 64 << 10
MAX_FILES = 200
# `GET /models` fields that differ between calls or restarts of the same model (vLLM stamps `created` now).
VOLATILE_FIELDS = frozenset({"created"})


def local_model_path(models_dir: Path, model_id: str, base_url: str) -> Path | None:
    """The local files of `model_id` when the server at `base_url` runs on this machine: the folder
    `models_dir/<model_id>` (a Hugging Face folder, or one holding a GGUF), else the GGUF file
    `models_dir/<model_id>.gguf` or `models_dir/gguf/<model_id>.gguf` (a twin's llama.cpp export); else None."""
    if urlparse(base_url).hostname not in LOOPBACK_HOSTS or not model_id or "/" in model_id:
        return None
    for candidate in (models_dir / model_id, models_dir / f"{model_id}.gguf", models_dir / "gguf" / f"{model_id}.gguf"):
        if candidate.exists():
            return candidate.resolve()
    return None


def files_fingerprint(path: Path) -> str:
    """A short hash of a model file or of the files of a model folder (hidden ones left out)."""
    digest = hashlib.sha256()
    if path.is_file():
        files = [path]
    else:
        files = sorted(
            item
            for item in path.rglob("*")
            if item.is_file() and not any(part.startswith(".") for part in item.relative_to(path).parts)
        )[:MAX_FILES]
    for item in files:
        digest.update(str(item.relative_to(path) if item != path else item.name).encode())
        digest.update(_file_digest(item))
    return digest.hexdigest()[:16]


def _file_digest(path: Path) -> bytes:
    stat = path.stat()
    with path.open("rb") as handle:
        if stat.st_size <= SMALL_FILE_BYTES:
            return hashlib.sha256(handle.read()).digest()
        head = handle.read(SAMPLE_BYTES)
        handle.seek(-SAMPLE_BYTES, 2)
        tail = handle.read(SAMPLE_BYTES)
    return hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}:".encode() + head + tail).digest()


def served_fingerprint(models: dict[str, Any] | None, model_id: str) -> str:
    """A short hash of a server's `GET /models` answer about `model_id` (its entry, else the ids listed)."""
    entries = models.get("data") if isinstance(models, dict) else None
    if not isinstance(entries, list):
        return "no-model-list"
    entries = [entry for entry in entries if isinstance(entry, dict)]
    mine = [entry for entry in entries if entry.get("id") == model_id]
    described: Any = (
        {key: value for key, value in mine[0].items() if key not in VOLATILE_FIELDS}
        if mine
        else sorted(str(entry.get("id")) for entry in entries)
    )
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()[:16]


def model_key(llm: LLMClient, local_path: Path | None = None) -> str:
    """`<endpoint> <model id> <fingerprints>` for `llm` (see the module docstring); `local_path` is the
    model's files when it is served from this machine (`local_model_path`).

    An OpenAI-compatible server is also asked for its model list, local or not: the entry tells engines
    apart (the same files served by llama.cpp or by `transformers serve`). Raises `LLMUnavailableError`
    when the server cannot be reached.
    """
    fingerprints = []
    if local_path is not None and local_path.exists():
        fingerprints.append(f"files:{files_fingerprint(local_path)}")
    list_models = getattr(llm, "list_models", None)
    if callable(list_models):
        fingerprints.append(f"served:{served_fingerprint(list_models(), llm.model_id)}")
    return " ".join([llm.endpoint, llm.model_id, *(fingerprints or ["unfingerprinted"])])
