"""Run a project module (`python -m tools.X ...`) in a child process from the project root, as a user would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

from tests.conftest import PROJECT_ROOT
from tests.waiting import CEILING_S


def run_module(
    module: str, *args: str, env: Mapping[str, str], timeout_s: float = CEILING_S, with_stderr: bool = False
) -> str:
    """stdout (and stderr, where logs go, when `with_stderr`) of `python -m module args...`; fails the test,
    with the output's tail, on a non-zero exit. `timeout_s` is a ceiling: a command returns when it is done."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout + result.stderr if with_stderr else result.stdout
