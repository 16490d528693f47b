"""Two checkouts, two ZenML stores: a pipeline run in one checkout (its own LOCAL_DATA_DIR) is listed by that
checkout's store only, and neither touches ZenML's machine-wide folder. Each run is a real ZenML run in a child
process started as the tools start (no ZENML_CONFIG_PATH of the user's), on a fresh store in a temporary folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llm_engineering.infrastructure.zenml_home import CONFIG_PATH_VARIABLE, DEFAULTED_VARIABLE, STORE_URL_VARIABLE
from tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _in_checkout(checkout: Path, machine_config: Path, argument: str) -> dict:
    """Run tests.fixtures.zenml_checkout_run in `checkout` (LOCAL_DATA_DIR = checkout/.local); its JSON line."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in (CONFIG_PATH_VARIABLE, DEFAULTED_VARIABLE, STORE_URL_VARIABLE)
    }
    environment.update(
        LOCAL_DATA_DIR=str(checkout / ".local"),
        ENV_FILE=str(PROJECT_ROOT / "tests" / "no.env"),
        # ZenML's machine-wide folder, were it used: a temporary one, never the developer's ~/.config/zenml.
        XDG_CONFIG_HOME=str(machine_config),
        ZENML_ANALYTICS_OPT_IN="false",
    )
    result = subprocess.run(
        [sys.executable, "-m", "tests.fixtures.zenml_checkout_run", argument],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_two_checkouts_keep_their_runs_apart(tmp_path):
    first, second, machine = tmp_path / "checkout-a", tmp_path / "checkout-b", tmp_path / "xdg"

    # One after the other (parallel is no faster on two cores): each list comes after the other checkout's run.
    in_first = _in_checkout(first, machine, "run_in_a")
    in_second = _in_checkout(second, machine, "run_in_b")
    first_again = _in_checkout(first, machine, "--list")

    assert in_first == {"config_path": str(first / ".local" / "zenml"), "runs": ["run_in_a"]}
    assert in_second == {"config_path": str(second / ".local" / "zenml"), "runs": ["run_in_b"]}
    assert first_again == in_first
    for checkout in (first, second):
        assert (checkout / ".local" / "zenml" / "config.yaml").is_file()
        assert (checkout / ".local" / "zenml" / "local_stores").is_dir()  # the runs' database and artifacts
    assert not (machine / "zenml").exists()
