"""Vendor telemetry is off by default, a user's own choice wins, and every entry point switches it off first."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from llm_engineering.settings import load_settings
from llm_engineering.telemetry import (
    OPT_IN_VARIABLE,
    VENDOR_OPT_OUTS,
    opt_out_of_vendor_telemetry,
    vendor_telemetry_allowed,
)
from tests.conftest import PROJECT_ROOT


@pytest.fixture
def settings(tmp_path: Path):
    return load_settings(env_file=tmp_path / "none.env")


def test_every_opt_out_is_set_on_a_clean_environment(settings):
    environ: dict[str, str] = {}

    applied = opt_out_of_vendor_telemetry(settings, environ)

    assert environ == applied == dict(VENDOR_OPT_OUTS)
    assert environ["ZENML_ANALYTICS_OPT_IN"] == "false" and environ["OPIK_ANALYTICS_ENABLE"] == "false"
    assert environ["HF_HUB_DISABLE_TELEMETRY"] == "1" and environ["COMET_ERROR_TRACKING_ENABLE"] == "false"


def test_a_vendor_variable_the_user_set_is_kept(settings):
    environ = {"COMET_ERROR_TRACKING_ENABLE": "true", "ZENML_ANALYTICS_OPT_IN": "true"}

    applied = opt_out_of_vendor_telemetry(settings, environ)

    assert environ["COMET_ERROR_TRACKING_ENABLE"] == "true" and environ["ZENML_ANALYTICS_OPT_IN"] == "true"
    assert "COMET_ERROR_TRACKING_ENABLE" not in applied and applied["OPIK_SENTRY_ENABLE"] == "false"


def test_the_project_opt_in_leaves_every_vendor_on_its_defaults(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"{OPT_IN_VARIABLE}=true\n")
    environ: dict[str, str] = {}

    assert opt_out_of_vendor_telemetry(load_settings(env_file=env_file), environ) == {}
    # Nothing switched off, and the choice made from .env is exported for the processes started from here.
    assert environ == {OPT_IN_VARIABLE: "true"}


def test_the_training_guard_follows_an_exported_opt_in(monkeypatch: pytest.MonkeyPatch):
    from llm_engineering.model.tracking import quiet_vendor_error_reporting

    monkeypatch.setenv(OPT_IN_VARIABLE, "true")
    monkeypatch.delenv("COMET_ERROR_TRACKING_ENABLE", raising=False)
    quiet_vendor_error_reporting()
    assert "COMET_ERROR_TRACKING_ENABLE" not in os.environ
    monkeypatch.delenv(OPT_IN_VARIABLE)
    quiet_vendor_error_reporting()
    assert os.environ["COMET_ERROR_TRACKING_ENABLE"] == "false"


def test_the_opt_in_is_read_from_the_environment_even_when_other_settings_are_invalid(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("DATABASE_TIMEOUT_S", "-1")  # invalid: load_settings raises
    monkeypatch.setenv(OPT_IN_VARIABLE, "true")
    assert vendor_telemetry_allowed() is True
    monkeypatch.setenv(OPT_IN_VARIABLE, "false")
    assert vendor_telemetry_allowed() is False


def test_an_already_imported_hub_follows_the_environment(monkeypatch: pytest.MonkeyPatch, settings):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "0")
    monkeypatch.delenv("HF_HUB_DISABLE_TELEMETRY")  # recorded first, so the test leaves no trace

    opt_out_of_vendor_telemetry(settings)

    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1" and constants.HF_HUB_DISABLE_TELEMETRY is True


def _calls_opt_out_first(function: ast.FunctionDef) -> bool:
    body = function.body[1:] if isinstance(function.body[0], ast.Expr) else function.body  # after the docstring
    for statement in body[:3]:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            called = statement.value.func
            if isinstance(called, ast.Name) and called.id == "opt_out_of_vendor_telemetry":
                return True
    return False


def _function(path: Path, name: str) -> ast.FunctionDef:
    tree = ast.parse(path.read_text())
    return next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name)


@pytest.mark.parametrize(
    "path", sorted(path for path in (PROJECT_ROOT / "tools").glob("*.py") if path.name != "__init__.py")
)
def test_every_tool_switches_vendor_telemetry_off_before_anything_else(path: Path):
    assert _calls_opt_out_first(_function(path, "main")), f"{path.name}: main() must call opt_out_of_vendor_telemetry()"


def test_the_api_factory_switches_vendor_telemetry_off_before_building_anything():
    create_app = _function(PROJECT_ROOT / "llm_engineering" / "entrypoints" / "api" / "app.py", "create_app")
    calls = [  # `name(...)` and `object.name(...)`: the tracer comes from the container (`container.tracer`)
        node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        for node in ast.walk(create_app)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
    ]
    assert "opt_out_of_vendor_telemetry" in calls
    assert calls.index("opt_out_of_vendor_telemetry") < calls.index("tracer")


def test_remote_step_containers_start_with_the_opt_outs():
    from pipelines.docker import PIPELINES_DOCKER_SETTINGS

    assert VENDOR_OPT_OUTS.items() <= PIPELINES_DOCKER_SETTINGS.environment.items()
