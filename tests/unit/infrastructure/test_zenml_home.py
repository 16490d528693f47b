"""`use_project_zenml_store`: ZENML_CONFIG_PATH defaults to LOCAL_DATA_DIR/zenml, unless the user set it or
points at a ZenML server (an environment dict stands in for the process's; nothing here reads ZenML)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from loguru import logger

from llm_engineering.bootstrap import use_project_zenml_store
from llm_engineering.infrastructure import zenml_home as module
from llm_engineering.infrastructure.zenml_home import (
    CONFIG_PATH_VARIABLE,
    DEFAULTED_VARIABLE,
    STORE_URL_VARIABLE,
    zenml_home,
)
from llm_engineering.settings import load_settings

PROJECT_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def settings(tmp_path):
    return load_settings(env_file=tmp_path / "none.env", LOCAL_DATA_DIR=tmp_path / "checkout" / ".local")


def test_the_store_defaults_to_the_checkouts_local_data_dir(settings, tmp_path):
    environ: dict[str, str] = {}

    home = use_project_zenml_store(settings, environ)

    expected = tmp_path / "checkout" / ".local" / "zenml"
    assert home is not None and (home.path, home.chosen_by) == (expected, "project")
    assert environ[CONFIG_PATH_VARIABLE] == str(expected)
    assert "this checkout's store" in home.describe()
    assert not expected.exists()  # ZenML creates it on first use, not this


def test_a_relative_local_data_dir_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env_file=tmp_path / "none.env", LOCAL_DATA_DIR=Path(".local"))
    environ: dict[str, str] = {}

    use_project_zenml_store(settings, environ)

    assert environ[CONFIG_PATH_VARIABLE] == str(tmp_path / ".local" / "zenml")


def test_a_config_path_the_user_set_is_kept(settings, tmp_path):
    environ = {CONFIG_PATH_VARIABLE: str(tmp_path / "mine")}

    home = use_project_zenml_store(settings, environ)

    assert home is not None and (home.path, home.chosen_by) == (tmp_path / "mine", "user")
    assert environ == {CONFIG_PATH_VARIABLE: str(tmp_path / "mine")}


def test_a_zenml_server_leaves_zenmls_own_folder(settings):
    environ = {STORE_URL_VARIABLE: "https://zenml.example.org"}

    home = use_project_zenml_store(settings, environ)

    assert home is not None and (home.path, home.chosen_by) == (None, "server")
    assert CONFIG_PATH_VARIABLE not in environ
    assert "https://zenml.example.org" in home.describe()


def test_a_default_inherited_from_another_checkout_is_not_a_user_choice(settings, tmp_path):
    parent = str(tmp_path / "other-checkout" / ".local" / "zenml")
    environ = {CONFIG_PATH_VARIABLE: parent, DEFAULTED_VARIABLE: parent}  # what a parent process exported

    home = use_project_zenml_store(settings, environ)

    assert home is not None and home.chosen_by == "project"
    assert (
        environ[CONFIG_PATH_VARIABLE] == environ[DEFAULTED_VARIABLE] == str(tmp_path / "checkout" / ".local" / "zenml")
    )
    # ...and with a server named, the parent's default goes: ZenML's own folder.
    environ[STORE_URL_VARIABLE] = "https://zenml.example.org"
    assert zenml_home(settings.LOCAL_DATA_DIR, environ).chosen_by == "server"
    use_project_zenml_store(settings, environ)
    assert CONFIG_PATH_VARIABLE not in environ and DEFAULTED_VARIABLE not in environ


def test_the_first_use_says_where_the_earlier_runs_are(settings, tmp_path, monkeypatch):
    machine = tmp_path / "home" / ".config" / "zenml"
    machine.mkdir(parents=True)
    (machine / "config.yaml").write_text("store: {}\n")
    monkeypatch.setattr(module, "machine_zenml_path", lambda: machine)
    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(str(message)), level="INFO")
    try:
        use_project_zenml_store(settings, {})
        (tmp_path / "checkout" / ".local" / "zenml").mkdir(parents=True)  # ZenML made it on first use
        use_project_zenml_store(settings, {})
    finally:
        logger.remove(sink)
    notes = [message for message in messages if "earlier ones stay in" in message]
    assert len(notes) == 1 and str(machine) in notes[0]


def test_unloadable_settings_set_nothing(monkeypatch):
    monkeypatch.setenv("DATABASE_TIMEOUT_S", "-1")  # invalid: the entry point reports it itself
    from llm_engineering.settings import get_settings

    get_settings.cache_clear()
    environ: dict[str, str] = {}
    try:
        assert use_project_zenml_store(None, environ) is None
    finally:
        get_settings.cache_clear()
    assert environ == {}


# --- Every entry point that uses ZenML chooses the store first ----------------------------------------------
def _main_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    main = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main")
    return [node.func.id for node in ast.walk(main) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]


def _uses_zenml(path: Path) -> bool:
    # The pipeline catalogue names pipelines without importing them (or ZenML): the API server that runs
    # them chooses the store in create_app.
    source = path.read_text().replace("from pipelines.catalogue import", "")
    return any(
        marker in source
        for marker in (
            "from zenml",
            "from pipelines",
            "zenml_orphaned_runs",
            "owned_run",
            "mark_orphaned_runs",
            "tools.zenml_env",
        )
    )


@pytest.mark.parametrize(
    "path",
    sorted(path for path in (PROJECT_ROOT / "tools").glob("*.py") if _uses_zenml(path)),
    ids=lambda path: path.name,
)
def test_every_tool_that_uses_zenml_chooses_the_checkouts_store_in_main(path: Path):
    assert "use_project_zenml_store" in _main_calls(path), f"{path.name}: main() must call use_project_zenml_store()"


def test_the_tools_using_zenml_are_found():
    found = {path.name for path in (PROJECT_ROOT / "tools").glob("*.py") if _uses_zenml(path)}
    assert {"run.py", "datasets.py", "continuous_training.py", "quickstart.py", "local_infrastructure.py"} <= found
