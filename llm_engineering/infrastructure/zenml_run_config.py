"""ZenML run configs (the YAML files in `configs/`) with parameters set for one run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


def config_with_parameters(config_path: Path, parameters: Mapping[str, Any], folder: Path) -> Path:
    """A copy of the run config in `folder` with `parameters` set (ZenML refuses runtime values that differ
    from the file's, so overrides go into the file)."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    config["parameters"] = {**(config.get("parameters") or {}), **parameters}
    path = folder / config_path.name
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
