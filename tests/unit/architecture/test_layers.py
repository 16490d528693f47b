"""The layer rules, read from the source: every import (top level, in functions, under TYPE_CHECKING).

Rooms, innermost first: domain -> application -> model -> infrastructure -> bootstrap -> entrypoints.
Imports point inwards only, and the inner rooms import no driver: a driver in `application/` or a
settings read in `domain/` fails here with the file and line. Settings are read by the composition root
(`bootstrap`) alone among the adapters: infrastructure takes plain values, and the entry points reach
adapters only through the container. The folders around the package (`pipelines/`,
`steps/`, `tools/`) use it and are never imported by it, not even by a module name in a string.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "llm_engineering"

DRIVERS = (
    "selenium",
    "sentence_transformers",
    "huggingface_hub",
    "qdrant_client",
    "pymongo",
    "boto3",
    "botocore",
    "sagemaker",
    "httpx",
    "torch",
    "transformers",
    "openai",
    "opik",
    "comet_ml",
    "datasets",  # Hugging Face datasets, and the Arrow tables under it
    "pyarrow",
    "zenml",
    "fastapi",
    "uvicorn",
)

# The folders around the package (composition roots and ZenML wiring): they import the package, never the reverse.
OUTER_FOLDERS = ("pipelines", "steps", "tools")
MODULE_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+(:[A-Za-z_]\w*)?")

# room -> the project modules and libraries it must not import
RULES: dict[str, tuple[str, ...]] = {
    "domain": (
        "llm_engineering.application",
        "llm_engineering.model",
        "llm_engineering.infrastructure",
        "llm_engineering.bootstrap",
        "llm_engineering.entrypoints",
        "llm_engineering.settings",
        *DRIVERS,
    ),
    "application": (
        "llm_engineering.model",
        "llm_engineering.infrastructure",
        "llm_engineering.bootstrap",
        "llm_engineering.entrypoints",
        "llm_engineering.settings",
        *DRIVERS,
    ),
    "model": (
        "llm_engineering.infrastructure",
        "llm_engineering.bootstrap",
        "llm_engineering.entrypoints",
    ),
    "infrastructure": ("llm_engineering.bootstrap", "llm_engineering.entrypoints", "llm_engineering.settings"),
    "bootstrap": ("llm_engineering.entrypoints",),
    # Through the container only: `bootstrap` builds every adapter an entry point uses.
    "entrypoints": ("llm_engineering.infrastructure",),
    "settings.py": (
        "llm_engineering.application",
        "llm_engineering.model",
        "llm_engineering.infrastructure",
        "llm_engineering.bootstrap",
        "llm_engineering.entrypoints",
    ),
}


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in a file, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package_parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package_parts[: len(package_parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:  # `from llm_engineering import bootstrap` names a module too
                yield node.lineno, f"{module}.{alias.name}"


def matches(module: str, forbidden: str) -> bool:
    return module == forbidden or module.startswith(forbidden + ".")


def offenders(room: str, forbidden: tuple[str, ...]) -> list[str]:
    target = PACKAGE / room
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    found = []
    for path in files:
        for line, module in imported_modules(path):
            if any(matches(module, name) for name in forbidden):
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{line} imports {module}")
    return sorted(set(found))


@pytest.mark.parametrize("room", sorted(RULES))
def test_imports_point_inwards_only(room):
    assert offenders(room, RULES[room]) == []


def test_nothing_below_the_entry_points_imports_them():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "entrypoints" in path.relative_to(PACKAGE).parts:
            continue
        found += [
            f"{path.relative_to(PROJECT_ROOT)}:{line}"
            for line, module in imported_modules(path)
            if matches(module, "llm_engineering.entrypoints")
        ]
    assert found == []


def module_names_in_strings(path: Path) -> Iterator[tuple[int, str]]:
    """(line, name) of every string that is a dotted module path (`"pipelines.training"`, `"tools.x:app"`):
    what `import_module`, uvicorn or a registry of module names would import."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_PATH.fullmatch(node.value):
            yield node.lineno, node.value


def outer_folder_imports() -> list[str]:
    """`file:line imports module` for every import of `pipelines`, `steps` or `tools` inside the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        imports = [*imported_modules(path), *module_names_in_strings(path)]
        found += [
            f"{path.relative_to(PROJECT_ROOT)}:{line} imports {module}"
            for line, module in imports
            if module.split(".")[0] in OUTER_FOLDERS
        ]
    return found


def test_the_package_never_imports_the_outer_folders():
    """`pipelines/`, `steps/` and `tools/` sit around the package and use it, never the other way round: the
    package gets what it needs from them handed in (the web UI its pipeline catalogue, from the app factory)."""
    assert outer_folder_imports() == []


def test_the_outer_folder_check_sees_static_and_dynamic_imports():
    sample = PACKAGE / "entrypoints" / "_outer_probe_sample.py"
    try:
        sample.write_text(
            "import importlib\nfrom pipelines.catalogue import CATALOGUE\n"
            "def f():\n    from tools import run\n    return importlib.import_module('steps.etl')\n"
            "PIPELINES = {'crawl': ('pipelines.digital_data_etl', 'digital_data_etl')}\n"
        )
        found = outer_folder_imports()
    finally:
        sample.unlink()
    assert "llm_engineering/entrypoints/_outer_probe_sample.py:2 imports pipelines.catalogue" in found
    assert "llm_engineering/entrypoints/_outer_probe_sample.py:4 imports tools" in found
    assert "llm_engineering/entrypoints/_outer_probe_sample.py:5 imports steps.etl" in found
    assert "llm_engineering/entrypoints/_outer_probe_sample.py:6 imports pipelines.digital_data_etl" in found


@pytest.mark.parametrize("folder", ["steps", "pipelines"])
def test_steps_and_pipelines_get_adapters_only_from_the_composition_root(folder):
    found = []
    for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
        found += [
            f"{path.relative_to(PROJECT_ROOT)}:{line} imports {module}"
            for line, module in imported_modules(path)
            if matches(module, "llm_engineering.infrastructure") or module.split(".")[0] in DRIVERS[:-3]
        ]
    assert found == []


def test_the_checker_sees_imports_inside_functions_and_type_checking_blocks(tmp_path):
    sample = PACKAGE / "domain" / "_layer_probe_sample.py"
    try:
        sample.write_text(
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from llm_engineering.settings import Settings\n"
            "def f():\n    import qdrant_client\n    from datasets import Dataset\n"
        )
        found = offenders("domain", RULES["domain"])
    finally:
        sample.unlink()
    assert any("_layer_probe_sample.py:3 imports llm_engineering.settings" in item for item in found)
    assert any("_layer_probe_sample.py:5 imports qdrant_client" in item for item in found)
    assert any("_layer_probe_sample.py:6 imports datasets" in item for item in found)


def test_every_project_error_derives_from_the_base_error():
    """Exception classes live in one module per layer and all derive from `LLMTwinError`."""
    from llm_engineering.application import errors as application_errors
    from llm_engineering.domain import exceptions as domain_errors
    from llm_engineering.domain.exceptions import LLMTwinError
    from llm_engineering.entrypoints.api import errors as api_errors
    from llm_engineering.infrastructure import errors as infrastructure_errors
    from llm_engineering.model import errors as model_errors

    for module in (domain_errors, application_errors, model_errors, infrastructure_errors, api_errors):
        classes = [value for value in vars(module).values() if isinstance(value, type) and issubclass(value, Exception)]
        assert classes, module.__name__
        assert all(issubclass(cls, LLMTwinError) for cls in classes), module.__name__

    stray = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in {"exceptions.py", "errors.py"}:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = {ast.unparse(base) for base in node.bases}
                if any(base.endswith(("Error", "Exception")) for base in bases):
                    stray.append(f"{path.relative_to(PROJECT_ROOT)}: {node.name}")
    assert stray == []
