"""The continuous-training chain as a use case: data -> features -> instruct and preference datasets (inside
the local LLM's lifetime) -> training -> evaluation gate -> deploy, each stage timed and recorded in a
`ContinuousTrainingReport`.

The policy lives here: the stage order, a failure stopping the chain with the rest marked skipped, the
candidate found as the version training added to the registry, a gate rejection told apart from a crash
(the gate step's verdict on the evaluation run), and what promotion does and reports. The outside comes in
through small ports: `StagePipelines` (runs a stage's pipeline), `GateVerdict` (reads an evaluation run's
gate), `DataSources` (the handbook import, an ETL crawl), `ModelVersions` (the registry subset used here),
`ModelServing` (promotion) and two hooks after promotion. `tools/continuous_training.py` wires them to
ZenML, the registry and SageMaker; tests use fakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from llm_engineering.application.operations.continuous_training import (
    BASE_SOURCE,
    STAGES,
    ContinuousTrainingConfig,
    ContinuousTrainingReport,
    DataSource,
    StageName,
    StageRecord,
    evaluation_parameters,
    promote_candidate,
)
from llm_engineering.application.serving.served_model import ModelServing

StageWork = Callable[[], tuple[str | None, str]]  # -> (the run it started, if any; a one-line detail)


# Private: control flow inside `run` (which returns the report), never raised to callers.
class _StageFailed(Exception):
    """A stage ended the chain; `record` says how."""

    def __init__(self, record: StageRecord):
        super().__init__(record.detail)
        self.record = record


class StagePipelines(Protocol):
    """The orchestrator, running one stage's pipeline."""

    def run(self, stage: StageName, overrides: dict[str, Any], run_name: str) -> str:
        """Run the pipeline of `stage` with its config plus `overrides`, uncached, as `run_name`; returns the
        run's name. Raises what the pipeline raised."""
        ...


class GateVerdict(Protocol):
    """How an evaluation run that raised ended."""

    def __call__(self, run_name: str) -> str | None:
        """The gate's message when run `run_name` failed in its gate step (the candidate was rejected), else
        None (it failed elsewhere, or is unknown)."""
        ...


class DataSources(Protocol):
    """Where the data stage gets documents from."""

    def import_handbook(self) -> str:
        """Import the book's corpus into the warehouse; one line saying what was added. Raises when missing."""
        ...

    def run_etl(self, config_name: str) -> str:
        """Crawl with the ETL config `config_name`; returns the run's name. Raises what the run raised."""
        ...


class RegistryVersion(Protocol):
    """One registered model version."""

    @property
    def spec(self) -> str: ...

    def card(self) -> dict[str, Any]:
        """Its machine-readable model card."""
        ...


class ModelVersions(Protocol):
    """The model registry, as far as the chain reads it."""

    def promoted(self, model_name: str) -> RegistryVersion | None:
        """The production version of `model_name`, None before the first promotion."""
        ...

    def versions(self, model_name: str) -> list[int]:
        """The registered version numbers of `model_name` (empty when none)."""
        ...

    def get(self, model_name: str, version: int) -> RegistryVersion:
        """Version `version` of `model_name`."""
        ...


LocalLLM = Callable[[], AbstractContextManager[object]]  # keeps the dataset generator up while open
TagProduction = Callable[[Mapping[str, Any]], None]  # marks the tracker's model version (from the card) production
RemoteDeploy = Callable[[], str]  # redeploys the remote endpoint; one line saying what was done


def stage_run_name(stage: StageName) -> str:
    """The run name of a stage, chosen before the run so a failed run can be looked up by it."""
    return f"ct_{stage}_{datetime.now():%Y_%m_%d_%H_%M_%S}"


def _one_line(error: BaseException) -> str:
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text[:400]


class ContinuousTrainingChain:
    """Runs the stages in order and fills the report (`run`)."""

    def __init__(
        self,
        config: ContinuousTrainingConfig,
        budget: str,
        *,
        pipelines: StagePipelines,
        gate_verdict: GateVerdict,
        data_sources: DataSources,
        local_llm: LocalLLM,
        registry: ModelVersions,
        serving: ModelServing,
        tag_production: TagProduction,
        remote_deploy: RemoteDeploy,
        deploy: bool = True,
        data: DataSource | None = None,
        progress: Callable[[str], None] = lambda line: None,
        run_names: Callable[[StageName], str] = stage_run_name,
        clock: Callable[[], float] = time.perf_counter,
    ):
        """`budget` names a budget of `config` (ValueError when unknown, before any work); `deploy` False
        evaluates but promotes nothing; `data` overrides the config's data source; `progress` gets a line
        per finished stage. `remote_deploy` is called only for `deploy_target: sagemaker`."""
        config.overrides(budget, "training")  # unknown budget: fail before any work
        self.config = config
        self.budget = budget
        self.pipelines = pipelines
        self.gate_verdict = gate_verdict
        self.data_sources = data_sources
        self.local_llm = local_llm
        self.registry = registry
        self.serving = serving
        self.tag_production = tag_production
        self.remote_deploy = remote_deploy
        self.deploy = deploy
        self.data: DataSource = data or config.data
        self.progress = progress
        self.run_names = run_names
        self.clock = clock
        self.report = ContinuousTrainingReport(budget=budget, model_name=config.model_name)

    def run(self) -> ContinuousTrainingReport:
        """Run the chain once; the report holds a record per stage (failed or rejected stages end it, the
        rest then skipped). Raises nothing a stage raises."""
        production = self.registry.promoted(self.config.model_name)
        self.report.current = production.spec if production else BASE_SOURCE
        versions_before = self.registry.versions(self.config.model_name)
        try:
            self._stage("data", self._data)
            self._stage("features", lambda: self._pipeline("features"))
            with self.local_llm():
                self._stage("instruct_datasets", lambda: self._pipeline("instruct_datasets"))
                self._stage("preference_datasets", lambda: self._pipeline("preference_datasets"))
            self._stage("training", lambda: self._train(versions_before))
            self._stage("evaluation", self._evaluate)
            if self.deploy:
                self._stage("deploy", self._promote)
            else:
                self.report.stages.append(StageRecord("deploy", "skipped", detail="--no-deploy"))
        except _StageFailed as stopped:
            if stopped.record.name not in {record.name for record in self.report.stages}:
                self.report.stages.append(stopped.record)
            for name in STAGES:
                if name not in {record.name for record in self.report.stages}:
                    self.report.stages.append(StageRecord(name, "skipped", detail=f"after {stopped.record.name}"))
        return self.report

    # --- stages ----------------------------------------------------------------------------------------
    def _stage(self, name: StageName, work: StageWork) -> None:
        started = self.clock()
        try:
            run, detail = work()
        except _StageFailed as stopped:
            stopped.record.seconds = self.clock() - started
            raise
        except Exception as error:
            record = StageRecord(name, "failed", self.clock() - started, detail=_one_line(error))
            raise _StageFailed(record) from error
        record = StageRecord(name, "succeeded", self.clock() - started, run=run, detail=detail)
        self.report.stages.append(record)
        self.progress(f"[ct] {name}: done in {record.seconds:.0f} s {detail}")

    def _pipeline(self, stage: StageName, extra: dict[str, Any] | None = None) -> tuple[str | None, str]:
        overrides = self.config.overrides(self.budget, stage) | (extra or {})
        return self.pipelines.run(stage, overrides, self.run_names(stage)), ""

    def _data(self) -> tuple[str | None, str]:
        if self.data == "skip":
            return None, "warehouse used as it is"
        if self.data == "handbook":
            return None, self.data_sources.import_handbook()
        runs = [self.data_sources.run_etl(name) for name in self.config.etl_configs]
        return ", ".join(runs), f"{len(runs)} ETL config(s)"

    def _train(self, versions_before: list[int]) -> tuple[str | None, str]:
        # The candidate is published only after the gate: `serve: false` here.
        run, _ = self._pipeline("training", {"serve": False, "model_name": self.config.model_name})
        new_versions = [v for v in self.registry.versions(self.config.model_name) if v not in versions_before]
        if not new_versions:
            raise RuntimeError(f"training ran ({run}) but registered no new {self.config.model_name} version")
        self.report.candidate = f"{self.config.model_name}:v{max(new_versions)}"
        return run, f"candidate {self.report.candidate}"

    def _evaluate(self) -> tuple[str | None, str]:
        parameters = evaluation_parameters(
            self.config.overrides(self.budget, "evaluation"),
            candidate_source=self.report.candidate or "",
            current_source=self.report.current or BASE_SOURCE,
            rules=self.config.gate,
        )
        started = self.clock()
        run_name = self.run_names("evaluation")
        try:
            run = self.pipelines.run("evaluation", parameters, run_name)
        except Exception as error:
            verdict = self.gate_verdict(run_name)
            if verdict is None:
                raise
            self.report.gate_message = f"rejected: {verdict}"
            record = StageRecord("evaluation", "rejected", self.clock() - started, run=run_name, detail=verdict)
            self.report.stages.append(record)
            self.report.stages.append(StageRecord("deploy", "skipped", detail="the gate rejected the candidate"))
            raise _StageFailed(record) from error
        self.report.gate_message = f"passed ({self.report.candidate} vs {self.report.current})"
        return run, self.report.gate_message

    def _promote(self) -> tuple[str | None, str]:
        """The gate passed: the candidate becomes production and, deployed locally, the served model (the
        record `local-llm-up` and the API follow; a running local server loads it now)."""
        promotion = promote_candidate(self.serving, self.report, self.config.deploy_target)
        if promotion is None:
            raise RuntimeError("nothing to promote: the evaluation gate did not pass a candidate")
        registered = self.registry.get(self.config.model_name, int(promotion.model.version or 0))
        self.tag_production(registered.card())
        self.report.deployed = promotion.model.spec
        details = [f"{promotion.model.spec} -> production, served as {promotion.model.model_id}"]
        if promotion.switched:
            details.append(f"the API asks {promotion.served.model_id}")
        if self.config.deploy_target == "sagemaker":
            details.append(self.remote_deploy())
        return None, "; ".join(details)
