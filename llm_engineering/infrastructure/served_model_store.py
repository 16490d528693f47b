"""The recorded served-model choice as a small JSON file (`LOCAL_DATA_DIR/models/served.json`), the
`ServedModelStore` of `application.serving.served_model`.

Written atomically (a temp file in the same folder, then renamed), so a reader in another process (the
API) sees the old record or the new one, never half of one. Reads are cached on the file's identity
(inode, size, modification time): the API reads it per request for one `stat`, and picks a change made by
the CLI up on its next request.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

from loguru import logger
from pydantic import ValidationError

from llm_engineering.application.errors import ServedModelError
from llm_engineering.domain.serving import ServedModelChoice

FILE_NAME = "served.json"

_Signature = tuple[int, int, int]


class JsonServedModelStore:
    """The choice in `path` (a JSON object with the `ServedModelChoice` fields)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._cached: tuple[_Signature, ServedModelChoice | None] | None = None
        self._lock = threading.Lock()

    def _signature(self) -> _Signature | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_size, stat.st_mtime_ns

    def read(self) -> ServedModelChoice | None:
        """The recorded choice; None when there is no file, or it is unreadable (logged once per version)."""
        signature = self._signature()
        if signature is None:
            return None
        cached = self._cached
        if cached is not None and cached[0] == signature:
            return cached[1]
        try:
            choice: ServedModelChoice | None = ServedModelChoice.model_validate_json(self.path.read_bytes())
        except (OSError, ValueError, ValidationError) as error:
            logger.warning("The served-model record {} is unreadable, ignored: {}", self.path, error)
            choice = None
        self._cached = (signature, choice)
        return choice

    def write(self, choice: ServedModelChoice) -> None:
        """Replace the record with `choice` (atomically). Raises ServedModelError when it cannot be written."""
        try:
            self._write(choice)
        except OSError as error:
            raise ServedModelError(f"Cannot record the served model in {self.path}: {error}") from error
        logger.info("Served model recorded: {} as {} (by {})", choice.spec, choice.model_id, choice.by or "?")

    def _write(self, choice: ServedModelChoice) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, staging = tempfile.mkstemp(prefix=f".{FILE_NAME}.", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as file:
                    file.write(json.dumps(choice.model_dump(exclude_none=True), indent=2) + "\n")
                    file.flush()
                    os.fsync(file.fileno())
                Path(staging).replace(self.path)
            except BaseException:
                Path(staging).unlink(missing_ok=True)
                raise
            self._cached = None
