"""The capability probes' verdicts in a small JSON file (LOCAL_DATA_DIR/cache/capabilities.json), per model
key and step, so that a restart on the same model asks the LLM nothing:

    {"version": 1, "models": {"<url> <model id> <fingerprint>": {"self-query": {"probe_id": "...",
        "passed": false, "detail": "...", "probed_at": "2025-01-31"}}}}

A missing or unreadable file is an empty cache (a broken one is replaced on the next write); a file that
cannot be written is logged and skipped. Writes replace the file atomically; two processes writing at
once may lose one verdict, which is then probed again.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.application.rag.capabilities import ProbeResult, Verdict

FORMAT_VERSION = 1
# Models remembered at most (the least recently probed are forgotten first): trained twins add up.
MAX_MODELS = 64


class JsonVerdictStore:
    """A `VerdictStore` in one JSON file (thread-safe)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"JsonVerdictStore({str(self.path)!r})"

    def load(self, model_key: str, step: str) -> Verdict | None:
        with self._lock:
            entry = self._read().get(model_key, {}).get(step)
        if not isinstance(entry, dict):
            return None
        try:
            return Verdict(
                probe_id=str(entry["probe_id"]),
                result=ProbeResult(passed=bool(entry["passed"]), detail=str(entry["detail"])),
                probed_at=str(entry.get("probed_at", "")),
            )
        except KeyError:
            return None

    def save(self, model_key: str, step: str, verdict: Verdict) -> None:
        with self._lock:
            models = self._read()
            steps = models.pop(model_key, {})  # re-inserted last: the most recently probed model
            steps[step] = {
                "probe_id": verdict.probe_id,
                "passed": verdict.result.passed,
                "detail": verdict.result.detail,
                "probed_at": verdict.probed_at,
            }
            models[model_key] = steps
            for old in list(models)[: max(0, len(models) - MAX_MODELS)]:
                del models[old]
            self._write({"version": FORMAT_VERSION, "models": models})

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            content = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            logger.warning("Ignoring the capability cache {}: {}", self.path, error)
            return {}
        models = content.get("models") if isinstance(content, dict) else None
        if not isinstance(models, dict) or content.get("version") != FORMAT_VERSION:
            return {}
        return {key: value for key, value in models.items() if isinstance(value, dict)}

    def _write(self, content: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as file:
                    json.dump(content, file, indent=2, sort_keys=False)
                Path(temporary).replace(self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            logger.warning("Could not write the capability cache {}: {}", self.path, error)
