from __future__ import annotations

import json

from llm_engineering.application.operations.alerts import MAX_ERROR_CHARS, Alert
from llm_engineering.infrastructure.alerting import FileAlerter, StackAlerter


def test_failure_message_names_pipeline_run_step_and_error():
    alert = Alert(status="failed", pipeline="training", run="training-1", step="train_sft", error="ValueError: boom")
    message = alert.message()
    assert message.splitlines()[0] == "[LLM Twin] FAILED: pipeline `training` failed (run `training-1`)"
    assert "step: train_sft" in message
    assert "error: ValueError: boom" in message


def test_long_errors_are_cut_and_whitespace_collapsed():
    alert = Alert(status="failed", pipeline="p", error="line\n" * 400)
    error_line = next(line for line in alert.message().splitlines() if line.startswith("error: "))
    assert len(error_line) == len("error: ") + MAX_ERROR_CHARS + 3
    assert error_line.endswith("...") and "\n" not in error_line


def test_success_message_lists_details_and_dashboard():
    alert = Alert(status="succeeded", pipeline="evaluating", details={"passed": True}, dashboard_url="http://d/r")
    assert alert.message().splitlines() == [
        "[LLM Twin] OK: pipeline `evaluating` succeeded",
        "passed: True",
        "dashboard: http://d/r",
    ]


def test_file_alerter_appends_json_lines(tmp_path):
    path = tmp_path / "nested" / "alerts.jsonl"
    alerter = FileAlerter(path)
    assert alerter.post(Alert(status="failed", pipeline="a", error="x"))
    assert alerter.post(Alert(status="succeeded", pipeline="b"))
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["pipeline"], r["status"]) for r in records] == [("a", "failed"), ("b", "succeeded")]
    assert records[0]["message"].startswith("[LLM Twin] FAILED")


class _Component:
    name = "slack"

    def __init__(self, result: bool | Exception):
        self.result = result
        self.messages: list[str] = []

    def post(self, message: str) -> bool:
        self.messages.append(message)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_stack_alerter_posts_the_message_to_the_component(tmp_path):
    component = _Component(True)
    alerter = StackAlerter(component, fallback=FileAlerter(tmp_path / "alerts.jsonl"))
    assert alerter.post(Alert(status="failed", pipeline="p"))
    assert component.messages == [Alert(status="failed", pipeline="p").message()]
    assert alerter.name == "zenml:slack"
    assert not (tmp_path / "alerts.jsonl").exists()


def test_stack_alerter_falls_back_to_the_file_when_delivery_fails(tmp_path):
    for result in (False, RuntimeError("webhook down")):
        path = tmp_path / f"{type(result).__name__}.jsonl"
        alerter = StackAlerter(_Component(result), fallback=FileAlerter(path))
        assert alerter.post(Alert(status="failed", pipeline="p"))
        assert json.loads(path.read_text())["pipeline"] == "p"


def test_stack_alerter_without_fallback_reports_failure():
    assert StackAlerter(_Component(RuntimeError("down"))).post(Alert(status="failed", pipeline="p")) is False
