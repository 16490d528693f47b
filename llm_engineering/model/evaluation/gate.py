"""The evaluation gate of continuous training: a candidate model replaces the current one only if none of
its gated metrics is worse than the current model's beyond an absolute tolerance.

This module only decides; the caller turns a failed `GateResult` into its own error and stops the pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class GateRule:
    """Gate on `metric`: the candidate may be worse than the current model by at most `tolerance`
    (absolute, >= 0), where worse means lower if `higher_is_better`, else higher."""

    metric: str
    higher_is_better: bool
    tolerance: float = 0.0

    def __post_init__(self) -> None:
        if not self.metric:
            raise ValueError("GateRule needs a metric name")
        if not math.isfinite(self.tolerance) or self.tolerance < 0:
            raise ValueError(f"tolerance of {self.metric!r} must be a finite number >= 0, got {self.tolerance}")


@dataclass(frozen=True)
class GateCheck:
    """One rule applied: the candidate's and current model's values, the bound the candidate had to meet
    (`allowed`), and the verdict. A check is `skipped` (and passes) when the current model lacks the
    metric; `candidate` is None when the candidate lacks it (and the check fails)."""

    metric: str
    candidate: float | None
    current: float | None
    allowed: float | None
    passed: bool
    skipped: bool = False


@dataclass
class GateResult:
    """The gate's verdict, each check, and a message naming every failing metric with its numbers."""

    passed: bool
    checks: list[GateCheck] = field(default_factory=list)
    message: str = ""


def evaluate_gate(
    candidate: Mapping[str, float], current: Mapping[str, float] | None, rules: Sequence[GateRule]
) -> GateResult:
    """Apply `rules` to the `candidate` model's metrics against the `current` model's.

    No current model (None) passes. A metric the candidate lacks fails; one the current model lacks is
    skipped. The bound itself passes: a candidate equal to current -/+ tolerance (within float rounding).
    """
    if current is None:
        return GateResult(passed=True, message="no current model to compare against: candidate accepted")
    checks = [_check(rule, candidate, current) for rule in rules]
    return GateResult(passed=all(c.passed for c in checks), checks=checks, message=_message(checks, rules))


def _check(rule: GateRule, candidate: Mapping[str, float], current: Mapping[str, float]) -> GateCheck:
    """Apply one rule."""
    cand = candidate.get(rule.metric)
    base = current.get(rule.metric)
    if cand is None:
        return GateCheck(rule.metric, None, base, None, passed=False)
    if base is None:
        return GateCheck(rule.metric, cand, None, None, passed=True, skipped=True)
    if rule.higher_is_better:
        allowed = base - rule.tolerance
        within = cand >= allowed
    else:
        allowed = base + rule.tolerance
        within = cand <= allowed
    # 0.7 + 0.1 is 0.7999999999999999 in floats: a candidate of 0.8 sits on the bound and must pass.
    on_bound = math.isclose(cand, allowed, rel_tol=1e-9, abs_tol=1e-12)
    return GateCheck(rule.metric, cand, base, allowed, passed=within or on_bound)


def _message(checks: Sequence[GateCheck], rules: Sequence[GateRule]) -> str:
    """Summary: every failure with its numbers, then the skipped metrics."""
    failures = [_failure(check, rule) for check, rule in zip(checks, rules, strict=True) if not check.passed]
    skipped = [check.metric for check in checks if check.skipped]
    head = f"gate failed: {'; '.join(failures)}" if failures else f"gate passed: {len(checks)} rule(s) checked"
    if skipped:
        head += f" (skipped, current model lacks: {', '.join(skipped)})"
    return head


def _failure(check: GateCheck, rule: GateRule) -> str:
    """One failing check, e.g. 'heldout_loss: candidate 3.20 > current 3.10 + tolerance 0.05'."""
    if check.candidate is None:
        return f"{check.metric}: missing from the candidate's metrics"
    worse, sign = ("<", "-") if rule.higher_is_better else (">", "+")
    return (
        f"{check.metric}: candidate {_number(check.candidate)} {worse} current {_number(check.current)} "
        f"{sign} tolerance {_number(rule.tolerance)}"
    )


def _number(value: float | None) -> str:
    """At least two decimals, up to six where they matter (3.2 -> '3.20', 0.0012 -> '0.0012')."""
    if value is None or not math.isfinite(value):
        return str(value)
    text = f"{value:.6f}".rstrip("0")
    decimals = len(text.split(".")[1])
    return text + "0" * (2 - decimals) if decimals < 2 else text
