"""This checkout's ZenML store: `ZENML_CONFIG_PATH` defaults to `LOCAL_DATA_DIR/zenml` (`.local/zenml`).

ZenML keeps its client config (the active stack, which store it talks to) and its local store (the SQLite
database of runs, the artifact store) under one folder, by default per machine user (`~/.config/zenml`). Every
checkout then shared one store: `latest` artifacts could come from another checkout's run, and
`local-infrastructure-up` in one checkout pointed every checkout at its dashboard server, so stopping it broke
pipelines running elsewhere. Entry points call `bootstrap.use_project_zenml_store()` before ZenML reads its config (its
first client or pipeline run; importing zenml reads nothing), so each checkout keeps its own runs, artifacts,
stacks and local dashboard database.

The user keeps the last word: a `ZENML_CONFIG_PATH` of their own is used as it is, and `ZENML_STORE_URL` (a
ZenML server, with `ZENML_STORE_API_KEY`) leaves ZenML's defaults alone. The default is exported to the
environment, so the processes an entry point starts (the API under the quickstart, `zenml` commands) use the
same store; a marker variable tells them it was a default, so a child with another `LOCAL_DATA_DIR` (a test, a
bench) gets its own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loguru import logger

CONFIG_PATH_VARIABLE = "ZENML_CONFIG_PATH"
STORE_URL_VARIABLE = "ZENML_STORE_URL"
# Set beside ZENML_CONFIG_PATH when the project chose it (not the user): the value it chose.
DEFAULTED_VARIABLE = "LLM_TWIN_ZENML_CONFIG_DEFAULT"
FOLDER_NAME = "zenml"


@dataclass(frozen=True)
class ZenMLHome:
    """Where ZenML keeps this process's config and local store (`path`; None with a server), and who chose it:
    `project` (LOCAL_DATA_DIR/zenml), `user` (their ZENML_CONFIG_PATH) or `server` (ZENML_STORE_URL)."""

    path: Path | None
    chosen_by: Literal["project", "user", "server"]
    store_url: str | None = None

    def describe(self) -> str:
        """One line for status output: where runs are stored."""
        if self.chosen_by == "server":
            return f"ZenML server {self.store_url} (ZENML_STORE_URL)"
        if self.chosen_by == "user":
            return f"{self.path} (ZENML_CONFIG_PATH)"
        return f"{self.path} (this checkout's store)"


def project_zenml_path(local_data_dir: Path) -> Path:
    """LOCAL_DATA_DIR/zenml, absolute (ZenML resolves it against the working directory of each process)."""
    return (Path(local_data_dir) / FOLDER_NAME).expanduser().resolve()


def zenml_home(local_data_dir: Path, environ: MutableMapping[str, str] | None = None) -> ZenMLHome:
    """The ZenML home `use_project_zenml_store` chooses for `local_data_dir` (LOCAL_DATA_DIR) and `environ`;
    reads, sets nothing."""
    environ = os.environ if environ is None else environ
    configured = environ.get(CONFIG_PATH_VARIABLE)
    # A value this module set (in this process or a parent) is a default, not the user's choice.
    if configured and configured != environ.get(DEFAULTED_VARIABLE):
        return ZenMLHome(Path(configured).expanduser().resolve(), "user")
    store_url = environ.get(STORE_URL_VARIABLE)
    if store_url:
        return ZenMLHome(None, "server", store_url)
    return ZenMLHome(project_zenml_path(local_data_dir), "project")


def use_project_zenml_store(local_data_dir: Path, environ: MutableMapping[str, str] | None = None) -> ZenMLHome:
    """Point ZenML at this checkout's store, `local_data_dir`/zenml, unless the user chose one
    (ZENML_CONFIG_PATH) or a server (ZENML_STORE_URL): sets ZENML_CONFIG_PATH in `environ` (default: this
    process's environment, inherited by the processes it starts). Call it before ZenML reads its config (entry
    points call `bootstrap.use_project_zenml_store()`, which reads LOCAL_DATA_DIR). Returns the home in use."""
    environ = os.environ if environ is None else environ
    home = zenml_home(local_data_dir, environ)
    if home.chosen_by != "project" or home.path is None:
        if home.chosen_by == "server" and environ.get(CONFIG_PATH_VARIABLE):
            environ.pop(CONFIG_PATH_VARIABLE)  # a parent's default: ZenML's own folder goes with a server
        environ.pop(DEFAULTED_VARIABLE, None)
        return home
    if environ is os.environ:
        _warn_if_zenml_configured_elsewhere(home.path)
    _say_where_earlier_runs_are(home.path)
    environ[CONFIG_PATH_VARIABLE] = environ[DEFAULTED_VARIABLE] = str(home.path)
    return home


def machine_zenml_path() -> Path:
    """ZenML's own default folder, per machine user (`~/.config/zenml` on Linux)."""
    import click

    return Path(click.get_app_dir("zenml"))


def _warn_if_zenml_configured_elsewhere(path: Path) -> None:
    # ZenML reads its config once per process: a client made before this call keeps the store it found.
    module = sys.modules.get("zenml.config.global_config")
    configured = getattr(getattr(module, "GlobalConfiguration", None), "_global_config", None)
    if configured is not None and Path(configured.config_directory).resolve() != path:
        logger.warning(
            "ZenML was configured before this checkout's store was chosen; this process keeps {}",
            configured.config_directory,
        )


def _say_where_earlier_runs_are(path: Path) -> None:
    # Once, when the checkout's store is created while runs of before sit in the machine-wide one.
    machine = machine_zenml_path()
    if path.exists() or not (machine / "config.yaml").is_file() or machine.resolve() == path:
        return
    logger.info(
        "ZenML: this checkout's runs and artifacts are now stored in {}; earlier ones stay in {} "
        "(ZENML_CONFIG_PATH={} uses that store)",
        path,
        machine,
        machine,
    )
