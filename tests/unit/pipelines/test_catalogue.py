"""The project's pipeline catalogue (`pipelines/catalogue.py`) is complete and true to the code, read from the
source (no pipeline is imported): every `@pipeline` is catalogued, every entry names a real pipeline, config,
parameter and step output, and the CLI, continuous training and the web UI all run pipelines from it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.catalogue import CATALOGUE, CONFIGS_DIR
from tests.conftest import PROJECT_ROOT


def _pipeline_functions() -> dict[tuple[str, str], ast.FunctionDef]:
    """(module, function) -> the definition, of every `@pipeline`-decorated function under pipelines/."""
    found = {}
    for path in sorted((PROJECT_ROOT / "pipelines").glob("*.py")):
        module = f"pipelines.{path.stem}"
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and any(
                "pipeline" in ast.unparse(decorator).split("(")[0] for decorator in node.decorator_list
            ):
                found[(module, node.name)] = node
    return found


def _parameters(function: ast.FunctionDef) -> set[str]:
    return {argument.arg for argument in (*function.args.args, *function.args.kwonlyargs)}


def test_the_catalogue_is_the_projects_configs_folder():
    assert CONFIGS_DIR == PROJECT_ROOT / "configs" and CATALOGUE.configs_dir == CONFIGS_DIR


def test_every_pipeline_of_the_project_is_catalogued_and_every_entry_is_a_pipeline():
    defined = set(_pipeline_functions())
    catalogued = {(pipeline.module, pipeline.function) for pipeline in CATALOGUE}
    assert defined, "no @pipeline found under pipelines/"
    assert catalogued == defined


@pytest.mark.parametrize("name", CATALOGUE.names())
def test_each_entry_has_its_config_and_real_parameters(name):
    catalogued = CATALOGUE[name]
    assert catalogued.available()
    assert CATALOGUE.config_path(name).is_file(), f"{name}: configs/{catalogued.config} is missing"
    signature = _parameters(_pipeline_functions()[(catalogued.module, catalogued.function)])
    assert set(CATALOGUE.parameters(name)) <= signature
    if catalogued.author_parameter:
        assert catalogued.author_parameter in signature


@pytest.mark.parametrize("name", [pipeline.name for pipeline in CATALOGUE if pipeline.summary])
def test_each_summarised_output_is_a_real_step_output(name):
    sources = {path: path.read_text(encoding="utf-8") for path in (PROJECT_ROOT / "steps").rglob("*.py")}
    for step, artifact, keys in CATALOGUE[name].summary:
        defining = [text for text in sources.values() if f"def {step}(" in text]
        assert len(defining) == 1, f"{name}: no single step {step!r} under steps/"
        assert f'"{artifact}"' in defining[0], f"{name}: step {step} has no output {artifact!r}"
        assert keys


def test_importing_the_catalogue_and_the_cli_loads_no_pipeline():
    probe = (
        "import json, sys; import pipelines.catalogue, tools.run, tools.continuous_training; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('zenml', 'steps') "
        "or m.startswith('pipelines.') and m != 'pipelines.catalogue')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_the_cli_flags_run_catalogued_pipelines_in_the_catalogues_order():
    from tools import run

    names = [entry.pipeline for entry in run.PIPELINES]
    assert names == CATALOGUE.names()
    for entry in run.PIPELINES:
        assert entry.catalogued is CATALOGUE[entry.pipeline]
        assert (entry.module, entry.function, entry.config) == (
            CATALOGUE[entry.pipeline].module,
            CATALOGUE[entry.pipeline].function,
            CATALOGUE[entry.pipeline].config,
        )
    assert CATALOGUE.configs_dir == run.CONFIGS_DIR


def test_continuous_training_runs_catalogued_pipelines():
    from tools import continuous_training as ct

    assert set(ct.PIPELINE_STAGES.values()) <= set(CATALOGUE.names())
    assert CATALOGUE.configs_dir == ct.CONFIGS_DIR


def test_the_web_uis_crawl_runs_catalogued_pipelines_with_their_parameters():
    from llm_engineering.entrypoints.ui.jobs import crawl_stages

    functions = _pipeline_functions()
    for name, parameters in crawl_stages("Ada Lovelace", ["https://a.example"]):
        catalogued = CATALOGUE[name]
        assert set(parameters) <= _parameters(functions[(catalogued.module, catalogued.function)])
        assert Path(CATALOGUE.config_path(name)).is_file()
