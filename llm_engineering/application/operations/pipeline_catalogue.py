"""The pipeline catalogue's shape: which pipelines exist, where each is defined, which run config it starts
from and what a caller may know about it (the parameter `--authors` sets, whether it asks the local LLM,
the run metadata worth summarising).

Only the shape lives here. The project's catalogue itself (`pipelines/catalogue.py`) is built by the outer
layer, which knows where the pipelines and `configs/` are, and handed to whatever runs pipelines: the CLI
(`tools/run.py`), continuous training and the web UI's runner (injected into the app factory). The package
therefore never imports `pipelines` itself and does not depend on the repository around it.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from llm_engineering.application.errors import UnknownPipelineError

# (step, output artifact, metadata keys) read from a finished run for a summary (a dict value is merged in)
SummaryField = tuple[str, str, tuple[str, ...]]


@dataclass(frozen=True)
class CataloguedPipeline:
    """One pipeline: `module.function` is the pipeline object, `config` its run config in the catalogue's
    folder (for the crawl, the template whose `parameters:` a run fills in)."""

    name: str
    module: str
    function: str
    config: str
    description: str = ""
    # The pipeline parameter that holds an author list, for pipelines that take one (`--authors` sets it).
    author_parameter: str | None = None
    # Offline dataset generation asks the local LLM: callers start it for the run when it is down.
    uses_local_llm: bool = False
    # What a finished run's metadata says worth showing (the UI's job summary).
    summary: tuple[SummaryField, ...] = ()

    def available(self) -> bool:
        """Whether the pipeline's module ships in this checkout (nothing is imported)."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except ModuleNotFoundError:  # a parent package is missing
            return False

    def load(self) -> Any:
        """The pipeline object (imports its module, and with it the orchestrator: call it when running)."""
        return getattr(importlib.import_module(self.module), self.function)


class PipelineCatalogue:
    """Pipelines by name, in a fixed order, with their run configs in `configs_dir`."""

    def __init__(self, configs_dir: Path, pipelines: Iterable[CataloguedPipeline]):
        self.configs_dir = Path(configs_dir)
        self._pipelines: dict[str, CataloguedPipeline] = {}
        for pipeline in pipelines:
            if pipeline.name in self._pipelines:
                raise ValueError(f"the pipeline catalogue lists {pipeline.name!r} twice")
            self._pipelines[pipeline.name] = pipeline

    def __getitem__(self, name: str) -> CataloguedPipeline:
        try:
            return self._pipelines[name]
        except KeyError:
            known = ", ".join(self.names())
            raise UnknownPipelineError(f"no pipeline {name!r} in the catalogue (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._pipelines

    def __iter__(self) -> Iterator[CataloguedPipeline]:
        return iter(self._pipelines.values())

    def __len__(self) -> int:
        return len(self._pipelines)

    def names(self) -> list[str]:
        return list(self._pipelines)

    def config_path(self, name: str, configs_dir: Path | None = None) -> Path:
        """The run config of pipeline `name` in `configs_dir` (default: the catalogue's folder)."""
        return (configs_dir or self.configs_dir) / self[name].config

    def parameters(self, name: str, configs_dir: Path | None = None) -> dict[str, Any]:
        """The `parameters:` mapping of the pipeline's run config ({} when it has none)."""
        config = yaml.safe_load(self.config_path(name, configs_dir).read_text(encoding="utf-8")) or {}
        return dict(config.get("parameters") or {})
