"""Step: write serialized artifacts to `<output_dir>/<name>.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from loguru import logger
from zenml import log_metadata, step


@step(enable_cache=False)
def to_json(
    serialized_artifacts: dict[str, Any], output_dir: str = "output", missing_artifacts: list[str] | None = None
) -> Annotated[dict[str, str], "exported_files"]:
    """Artifact name -> absolute path of the JSON file written for it (`output_dir` is created if needed).

    Metadata on `exported_files`: `exported` (count), `missing_artifacts` (passed through from the
    serialize step), `output_dir`, `files` (name -> path) and `bytes` (name -> file size).
    """
    folder = Path(output_dir).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for name, data in serialized_artifacts.items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        files[name], sizes[name] = str(path), path.stat().st_size
        logger.info("Exported {} to {} ({} bytes).", name, path, sizes[name])
    missing = list(missing_artifacts or [])
    if missing:
        logger.warning("Not exported, no such artifact: {}.", ", ".join(missing))
    log_metadata(
        metadata={
            "exported": len(files),
            "missing_artifacts": missing,
            "output_dir": str(folder),
            "files": files,
            "bytes": sizes,
        },
        infer_artifact=True,
    )
    return files
