"""Continuous training (CT): the chain data -> features -> datasets -> training -> evaluation gate ->
deploy, as a plan of stages with per-budget parameters and a report of what each stage did.

Pure: which pipelines run with which parameters, how the evaluation compares the candidate with the
production model, what the gate's verdict changes (`promote_candidate`, through the served-model use case)
and how the outcome reads. The chain that runs the stages is `continuous_training_chain`; the composition
root (`tools/continuous_training.py`) wires it to the ZenML pipelines.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llm_engineering.application.serving.served_model import ModelServing, Promotion

StageName = Literal["data", "features", "instruct_datasets", "preference_datasets", "training", "evaluation", "deploy"]
STAGES: tuple[StageName, ...] = (
    "data",
    "features",
    "instruct_datasets",
    "preference_datasets",
    "training",
    "evaluation",
    "deploy",
)
StageStatus = Literal["succeeded", "failed", "skipped", "rejected"]
DataSource = Literal["handbook", "crawl", "skip"]
DeployTarget = Literal["local", "sagemaker"]
CANDIDATE = "candidate"
CURRENT = "current"
BASE_SOURCE = "base"


class GateRuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = Field(min_length=1)
    tolerance: float = Field(default=0.0, ge=0)


class ContinuousTrainingConfig(BaseModel):
    """`configs/continuous_training.yaml`: what the chain does and the parameters of each budget."""

    model_config = ConfigDict(extra="forbid")

    model_name: str = "llm_twin"
    data: DataSource = "handbook"
    etl_configs: list[str] = Field(default_factory=list)
    deploy_target: DeployTarget = "local"
    gate: list[GateRuleConfig] = Field(min_length=1)
    # budget -> stage -> pipeline parameter overrides (on top of the stage's own configs/*.yaml)
    budgets: dict[str, dict[StageName, dict[str, Any]]]

    @field_validator("budgets")
    @classmethod
    def _some_budget(cls, value: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
        if not value:
            raise ValueError("define at least one budget (e.g. small and full)")
        return value

    def overrides(self, budget: str, stage: StageName) -> dict[str, Any]:
        """The parameter overrides of `stage` under `budget` (a copy; empty when the budget sets none)."""
        if budget not in self.budgets:
            raise ValueError(f"Unknown budget {budget!r}; configured: {', '.join(sorted(self.budgets))}.")
        return json.loads(json.dumps(self.budgets[budget].get(stage) or {}))


def evaluation_parameters(
    overrides: Mapping[str, Any], candidate_source: str, current_source: str, rules: Sequence[GateRuleConfig]
) -> dict[str, Any]:
    """Parameters of the evaluating pipeline for the gate: the candidate against the current production
    model (or the base model before the first promotion), with the gate on."""
    return {
        **overrides,
        "models": [
            {"name": CURRENT, "source": current_source},
            {"name": CANDIDATE, "source": candidate_source},
        ],
        "gate": {
            "candidate": CANDIDATE,
            "current": CURRENT,
            "rules": [rule.model_dump() for rule in rules],
        },
    }


@dataclass
class StageRecord:
    """What one stage did: status, wall time, the ZenML run it started (if any) and a one-line detail."""

    name: StageName
    status: StageStatus
    seconds: float = 0.0
    run: str | None = None
    detail: str = ""


@dataclass
class ContinuousTrainingReport:
    """The whole CT run, for the terminal, the report file and the alert."""

    budget: str
    model_name: str
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    stages: list[StageRecord] = field(default_factory=list)
    candidate: str | None = None
    current: str | None = None
    gate_message: str | None = None
    deployed: str | None = None

    @property
    def outcome(self) -> Literal["deployed", "promoted", "rejected", "failed", "trained"]:
        statuses = {record.name: record.status for record in self.stages}
        if "failed" in statuses.values():
            return "failed"
        if statuses.get("evaluation") == "rejected":
            return "rejected"
        if statuses.get("deploy") == "succeeded":
            return "deployed"
        if self.deployed:
            return "promoted"
        return "trained"

    @property
    def gate_passed(self) -> bool:
        """Whether the evaluation gate passed a candidate (its stage succeeded)."""
        statuses = {record.name: record.status for record in self.stages}
        return bool(self.candidate) and statuses.get("evaluation") == "succeeded"

    @property
    def total_seconds(self) -> float:
        return sum(record.seconds for record in self.stages)

    def summary(self) -> dict[str, str | int | float]:
        """Flat scalars for alerts and ZenML-style metadata."""
        values: dict[str, str | int | float | None] = {
            "outcome": self.outcome,
            "budget": self.budget,
            "candidate": self.candidate,
            "current": self.current,
            "deployed": self.deployed,
            "gate": self.gate_message,
            "minutes": round(self.total_seconds / 60, 1),
        }
        return {key: value for key, value in values.items() if value is not None}

    def as_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "model_name": self.model_name,
            "started_at": self.started_at,
            "outcome": self.outcome,
            "candidate": self.candidate,
            "current": self.current,
            "gate_message": self.gate_message,
            "deployed": self.deployed,
            "total_seconds": round(self.total_seconds, 1),
            "stages": [asdict(record) for record in self.stages],
        }

    def markdown(self) -> str:
        lines = [
            f"# Continuous training: {self.outcome}",
            "",
            f"- model: `{self.model_name}`, budget: `{self.budget}`, started {self.started_at}",
            f"- candidate: `{self.candidate or '-'}`; current production: `{self.current or '-'}`",
            f"- evaluation gate: {self.gate_message or '-'}",
            f"- deployed: `{self.deployed or 'nothing'}`",
            "",
            "| stage | status | time | ZenML run | detail |",
            "| --- | --- | ---: | --- | --- |",
        ]
        for record in self.stages:
            detail = record.detail.replace("|", "\\|").replace("\n", " ")
            lines.append(
                f"| {record.name} | {record.status} | {record.seconds:.0f} s | {record.run or '-'} | {detail} |"
            )
        lines.append(f"\nTotal: {self.total_seconds / 60:.1f} min.")
        return "\n".join(lines) + "\n"


def promote_candidate(serving: ModelServing, report: ContinuousTrainingReport, deploy_target: str) -> Promotion | None:
    """The gate's verdict carried out. Passed: the candidate becomes production, with the checks of
    `poe promote-model`, and, deployed locally, the served model (recorded, so `local-llm-up` and the API
    follow it; a running local server loads it first). For SageMaker the local served model is left as it
    is. Rejected, or no candidate: nothing is touched and None is returned. Raises LLMTwinError when the
    candidate cannot be promoted or served (nothing is promoted then)."""
    if not report.gate_passed or not report.candidate:
        return None
    return serving.promote(
        report.candidate,
        by="continuous training",
        reason=f"continuous training: {report.gate_message}",
        serve=deploy_target == "local",
    )
