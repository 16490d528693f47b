"""The continuous-training evaluation gate: pass, fail, tolerance bounds, missing metrics and messages."""

from __future__ import annotations

import pytest

from llm_engineering.model.evaluation import gate as gate_module
from llm_engineering.model.evaluation.gate import GateCheck, GateResult, GateRule, evaluate_gate

LOSS = GateRule(metric="heldout_loss", higher_is_better=False, tolerance=0.05)
ROUGE = GateRule(metric="rouge_l", higher_is_better=True, tolerance=0.01)
RULES = [LOSS, ROUGE]


def test_no_current_model_passes_and_says_so():
    result = evaluate_gate({"heldout_loss": 9.9}, None, RULES)
    assert result.passed
    assert result.checks == []
    assert "no current model" in result.message


def test_better_candidate_passes_every_check():
    result = evaluate_gate({"heldout_loss": 3.0, "rouge_l": 0.5}, {"heldout_loss": 3.1, "rouge_l": 0.45}, RULES)
    assert isinstance(result, GateResult)
    assert result.passed
    assert [check.metric for check in result.checks] == ["heldout_loss", "rouge_l"]
    assert all(check.passed and not check.skipped for check in result.checks)
    assert result.message == "gate passed: 2 rule(s) checked"


def test_lower_is_better_failure_reports_numbers():
    result = evaluate_gate({"heldout_loss": 3.2}, {"heldout_loss": 3.1}, [LOSS])
    assert not result.passed
    check = result.checks[0]
    assert check.metric == "heldout_loss" and check.candidate == 3.2 and check.current == 3.1
    assert check.allowed == pytest.approx(3.15)
    assert not check.passed
    assert "heldout_loss: candidate 3.20 > current 3.10 + tolerance 0.05" in result.message


def test_higher_is_better_failure_reports_numbers():
    result = evaluate_gate({"rouge_l": 0.40}, {"rouge_l": 0.45}, [ROUGE])
    assert not result.passed
    assert result.checks[0].allowed == pytest.approx(0.44)
    assert "rouge_l: candidate 0.40 < current 0.45 - tolerance 0.01" in result.message


@pytest.mark.parametrize(
    ("rule", "candidate", "current", "passed"),
    [
        (LOSS, 3.15, 3.10, True),  # exactly on the bound
        (GateRule("loss", higher_is_better=False, tolerance=0.1), 0.8, 0.7, True),  # 0.7 + 0.1 < 0.8 in floats
        (GateRule("acc", higher_is_better=True, tolerance=0.1), 0.7, 0.8, True),  # 0.8 - 0.1 > 0.7 in floats
        (LOSS, 3.1501, 3.10, False),
        (LOSS, 3.10, 3.10, True),
        (ROUGE, 0.44, 0.45, True),  # exactly on the bound
        (ROUGE, 0.4399, 0.45, False),
        (GateRule("acc", higher_is_better=True, tolerance=0.0), 0.5, 0.5, True),
        (GateRule("acc", higher_is_better=True, tolerance=0.0), 0.4999, 0.5, False),
        (GateRule("loss", higher_is_better=False, tolerance=0.0), 2.0001, 2.0, False),
    ],
)
def test_tolerance_bounds(rule, candidate, current, passed):
    result = evaluate_gate({rule.metric: candidate}, {rule.metric: current}, [rule])
    assert result.passed is passed
    assert result.checks[0].passed is passed


def test_every_failing_metric_is_listed():
    result = evaluate_gate({"heldout_loss": 4.0, "rouge_l": 0.1}, {"heldout_loss": 3.0, "rouge_l": 0.5}, RULES)
    assert not result.passed
    assert "heldout_loss: candidate 4.00 > current 3.00 + tolerance 0.05" in result.message
    assert "rouge_l: candidate 0.10 < current 0.50 - tolerance 0.01" in result.message


def test_one_failure_fails_the_gate_and_passing_metric_is_not_listed():
    result = evaluate_gate({"heldout_loss": 3.0, "rouge_l": 0.1}, {"heldout_loss": 3.1, "rouge_l": 0.5}, RULES)
    assert not result.passed
    assert [check.passed for check in result.checks] == [True, False]
    assert "heldout_loss" not in result.message
    assert "rouge_l" in result.message


def test_metric_missing_from_candidate_fails_naming_it():
    result = evaluate_gate({"heldout_loss": 3.0}, {"heldout_loss": 3.1, "rouge_l": 0.5}, RULES)
    assert not result.passed
    missing = result.checks[1]
    assert missing == GateCheck("rouge_l", None, 0.5, None, passed=False)
    assert "rouge_l: missing from the candidate" in result.message


def test_metric_missing_from_current_is_skipped_and_reported():
    result = evaluate_gate({"heldout_loss": 3.0, "rouge_l": 0.1}, {"heldout_loss": 3.1}, RULES)
    assert result.passed
    skipped = result.checks[1]
    assert skipped.skipped and skipped.passed and skipped.current is None and skipped.allowed is None
    assert "skipped" in result.message and "rouge_l" in result.message


def test_skipped_metrics_are_reported_alongside_failures():
    result = evaluate_gate({"heldout_loss": 4.0, "rouge_l": 0.1}, {"heldout_loss": 3.1}, RULES)
    assert not result.passed
    assert "heldout_loss: candidate 4.00" in result.message
    assert "current model lacks: rouge_l" in result.message


def test_nan_candidate_fails():
    result = evaluate_gate({"heldout_loss": float("nan")}, {"heldout_loss": 3.1}, [LOSS])
    assert not result.passed
    assert "candidate nan" in result.message


def test_no_rules_passes():
    assert evaluate_gate({"a": 1.0}, {"a": 2.0}, []).passed


@pytest.mark.parametrize("tolerance", [-0.1, float("nan"), float("inf")])
def test_rule_rejects_invalid_tolerance(tolerance):
    with pytest.raises(ValueError, match="tolerance"):
        GateRule("loss", higher_is_better=False, tolerance=tolerance)


def test_rule_needs_a_metric_name():
    with pytest.raises(ValueError, match="metric"):
        GateRule("", higher_is_better=True)


@pytest.mark.parametrize(
    ("value", "text"), [(3.2, "3.20"), (3.0, "3.00"), (0.0012, "0.0012"), (3.149, "3.149"), (-1.5, "-1.50")]
)
def test_numbers_keep_two_to_six_decimals(value, text):
    assert gate_module._number(value) == text


def test_gate_defines_no_error_type():
    # The caller raises its own error on a failed gate; this module only decides.
    assert not any(name.endswith("Error") for name in vars(gate_module))
