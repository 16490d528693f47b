"""Step: the evaluation gate of continuous training: fail the run when the candidate model is worse than
the current one beyond the configured tolerance on any gated metric."""

from __future__ import annotations

from typing import Annotated, Any

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.model.evaluation.report import EvaluationReport


@step
def evaluation_gate(
    report: EvaluationReport, candidate: str, current: str, rules: list[dict[str, Any]]
) -> Annotated[dict, "evaluation_gate"]:
    """`candidate` and `current` are model names of the report; `rules` are {metric, tolerance}, each
    metric's direction coming from the report. Raises EvaluationGateError with every failing number."""
    from llm_engineering.model.errors import EvaluationGateError
    from llm_engineering.model.evaluation.gate import GateRule, evaluate_gate
    from llm_engineering.model.evaluation.report import metric_means

    directions = {info.metric: info.higher_is_better for info in report.metrics}
    unknown = [rule["metric"] for rule in rules if rule["metric"] not in directions]
    if unknown:
        raise EvaluationGateError(f"Gate rules name metrics the report lacks: {unknown}; it has {sorted(directions)}.")
    gate_rules = [
        GateRule(rule["metric"], directions[rule["metric"]], float(rule.get("tolerance", 0.0))) for rule in rules
    ]
    result = evaluate_gate(metric_means(report, candidate), metric_means(report, current), gate_rules)
    verdict = {
        "passed": result.passed,
        "candidate": candidate,
        "current": current,
        "message": result.message,
        "checks": [{k: v for k, v in vars(check).items() if v is not None} for check in result.checks],
    }
    # On the step run, so the verdict is on record (dashboard, client) also when the step fails below.
    log_metadata(metadata={"passed": result.passed, "message": result.message})
    if not result.passed:
        raise EvaluationGateError(f"{candidate} vs {current}: {result.message}")
    logger.info("Evaluation gate: {} vs {}: {}", candidate, current, result.message)
    return verdict
