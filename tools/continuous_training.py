"""Continuous training: run data -> features -> datasets -> training -> evaluation gate -> deploy on the
active ZenML stack, each stage its own pipeline run, and promote the new twin only when the gate passes.

    poetry run poe run-continuous-training                  # small budget, local stack, minutes on a CPU
    poetry run poe run-continuous-training --budget full    # the configs as they are
    poetry run python -m tools.continuous_training --no-deploy --data skip

Writes output/continuous_training/<started>/report.{md,json} and posts the outcome through the alerter.
Exit status: 0 when the chain ran (promoted, or the candidate was rejected by the gate), 1 when a stage
failed, 3 when `--fail-on-reject` and the gate rejected the candidate.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from llm_engineering.application.operations.continuous_training import (
    BASE_SOURCE,
    STAGES,
    ContinuousTrainingConfig,
    ContinuousTrainingReport,
    StageName,
    StageRecord,
    evaluation_parameters,
    promote_candidate,
)
from llm_engineering.bootstrap import owned_run
from pipelines.catalogue import CATALOGUE

if TYPE_CHECKING:
    from llm_engineering.application.serving.served_model import ModelServing

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIGS_DIR = CATALOGUE.configs_dir
DEFAULT_CONFIG = CONFIGS_DIR / "continuous_training.yaml"
OUTPUT_DIR = PROJECT_ROOT / "output" / "continuous_training"
EXIT_STAGE_FAILED = 1
EXIT_REJECTED = 3

# stage -> the pipeline it runs, by its name in the catalogue (`pipelines/catalogue.py`: module, config file)
PIPELINE_STAGES: dict[StageName, str] = {
    "features": "feature_engineering",
    "instruct_datasets": "generate_instruct_datasets",
    "preference_datasets": "generate_preference_datasets",
    "training": "training",
    "evaluation": "evaluating",
}


class StageFailed(Exception):
    """A stage ended the chain; `record` says how."""

    def __init__(self, record: StageRecord):
        super().__init__(record.detail)
        self.record = record


def load_config(path: Path) -> ContinuousTrainingConfig:
    """The CT config; a clear error naming the file for a missing file or a bad key."""
    if not path.is_file():
        raise click.UsageError(f"CT config not found: {path}")
    try:
        return ContinuousTrainingConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except ValueError as error:
        raise click.UsageError(f"{path}: {error}") from error


def stage_run_name(stage: StageName) -> str:
    """The ZenML run name of a stage, chosen before the run so a failed run can be looked up by it."""
    return f"ct_{stage}_{datetime.now():%Y_%m_%d_%H_%M_%S}"


def run_pipeline(
    stage: StageName, overrides: dict[str, Any], folder: Path, run_name: str, configs_dir: Path = CONFIGS_DIR
) -> str:
    """Run the stage's pipeline with its config plus `overrides` (no cache: CT wants fresh results);
    returns the run name. Raises what the pipeline raised."""
    from tools.run import with_parameters

    catalogued = CATALOGUE[PIPELINE_STAGES[stage]]
    config_path = CATALOGUE.config_path(catalogued.name, configs_dir)
    config_path = with_parameters(config_path, overrides, folder) if overrides else config_path
    pipeline = catalogued.load()
    click.echo(f"[ct] {stage}: {catalogued.function} with {config_path.name} as {run_name}")
    with owned_run(run_name):
        pipeline.with_options(config_path=str(config_path), run_name=run_name, enable_cache=False)()
    return run_name


def gate_verdict(run_name: str) -> str | None:
    """The gate's message when the evaluation run `run_name` failed in its `evaluation_gate` step (the
    candidate was rejected), else None (the run failed elsewhere, or is unknown)."""
    try:
        from zenml.client import Client

        run = Client().get_pipeline_run(run_name)
        gate = run.steps.get("evaluation_gate")
        if gate is None or str(gate.status) not in ("failed", "ExecutionStatus.FAILED"):
            return None
        return str(gate.run_metadata.get("message") or "the candidate is worse than production")
    except Exception:  # noqa: BLE001 - no verdict on record: treat as an ordinary failure
        return None


class ContinuousTraining:
    """Runs the stages in order and fills the report; `deploy` and `data` are injected by the CLI."""

    def __init__(
        self,
        config: ContinuousTrainingConfig,
        budget: str,
        folder: Path,
        deploy: bool = True,
        data: str | None = None,
        pipeline_runner: Callable[[StageName, dict[str, Any], Path, str], str] = run_pipeline,
        rejection_verdict: Callable[[str], str | None] | None = None,
        llm_context: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
        model_serving: ModelServing | None = None,
    ):
        """`pipeline_runner(stage, overrides, folder, run name) -> run name` runs a stage's pipeline;
        `rejection_verdict(run name) -> gate message or None` reads whether that evaluation run's gate failed;
        `llm_context()` keeps the local LLM up for dataset generation; `model_serving` promotes and serves the
        candidate (default: built from the settings). Tests inject them."""
        config.overrides(budget, "training")  # unknown budget: fail before any work
        self.config = config
        self.budget = budget
        self.folder = folder
        self.deploy = deploy
        self.data = data or config.data
        self.run_pipeline = pipeline_runner
        self.rejection_verdict = rejection_verdict or gate_verdict
        self.llm_context = llm_context or _local_llm
        self.model_serving = model_serving
        self.report = ContinuousTrainingReport(budget=budget, model_name=config.model_name)

    def run(self) -> ContinuousTrainingReport:
        from llm_engineering import bootstrap

        registry = bootstrap.container().model_registry()
        production = registry.promoted(self.config.model_name)
        self.report.current = production.spec if production else BASE_SOURCE
        versions_before = registry.versions(self.config.model_name)
        try:
            self._stage("data", self._data)
            self._stage("features", lambda: self._pipeline("features"))
            with self.llm_context():
                self._stage("instruct_datasets", lambda: self._pipeline("instruct_datasets"))
                self._stage("preference_datasets", lambda: self._pipeline("preference_datasets"))
            self._stage("training", lambda: self._train(registry, versions_before))
            self._stage("evaluation", self._evaluate)
            if self.deploy:
                self._stage("deploy", lambda: self._promote(registry))
            else:
                self.report.stages.append(StageRecord("deploy", "skipped", detail="--no-deploy"))
        except StageFailed as stopped:
            done = {record.name for record in self.report.stages}
            if stopped.record.name not in done:
                self.report.stages.append(stopped.record)
            for name in STAGES:
                if name not in {record.name for record in self.report.stages}:
                    self.report.stages.append(StageRecord(name, "skipped", detail=f"after {stopped.record.name}"))
        return self.report

    # --- stages ----------------------------------------------------------------------------------------
    def _stage(self, name: StageName, work: Callable[[], tuple[str | None, str]]) -> None:
        started = time.perf_counter()
        try:
            run, detail = work()
        except StageFailed as stopped:
            stopped.record.seconds = time.perf_counter() - started
            raise
        except Exception as error:
            record = StageRecord(name, "failed", time.perf_counter() - started, detail=_one_line(error))
            raise StageFailed(record) from error
        record = StageRecord(name, "succeeded", time.perf_counter() - started, run=run, detail=detail)
        self.report.stages.append(record)
        click.echo(f"[ct] {name}: done in {record.seconds:.0f} s {detail}")

    def _pipeline(self, stage: StageName, extra: dict[str, Any] | None = None) -> tuple[str | None, str]:
        overrides = self.config.overrides(self.budget, stage) | (extra or {})
        return self.run_pipeline(stage, overrides, self.folder, stage_run_name(stage)), ""

    def _data(self) -> tuple[str | None, str]:
        if self.data == "skip":
            return None, "warehouse used as it is"
        if self.data == "handbook":
            return None, _import_handbook()
        runs = []
        for name in self.config.etl_configs:
            runs.append(_run_etl(name, self.folder))
        return ", ".join(runs), f"{len(runs)} ETL config(s)"

    def _train(self, registry: Any, versions_before: list[int]) -> tuple[str | None, str]:
        # The candidate is published only after the gate: `serve: false` here.
        run, _ = self._pipeline("training", {"serve": False, "model_name": self.config.model_name})
        new_versions = [v for v in registry.versions(self.config.model_name) if v not in versions_before]
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
        started = time.perf_counter()
        run_name = stage_run_name("evaluation")
        try:
            run = self.run_pipeline("evaluation", parameters, self.folder, run_name)
        except Exception as error:
            verdict = self.rejection_verdict(run_name)
            if verdict is None:
                raise
            self.report.gate_message = f"rejected: {verdict}"
            record = StageRecord("evaluation", "rejected", time.perf_counter() - started, run=run_name, detail=verdict)
            self.report.stages.append(record)
            self.report.stages.append(StageRecord("deploy", "skipped", detail="the gate rejected the candidate"))
            raise StageFailed(record) from error
        self.report.gate_message = f"passed ({self.report.candidate} vs {self.report.current})"
        return run, self.report.gate_message

    def _promote(self, registry: Any) -> tuple[str | None, str]:
        """The gate passed: the candidate becomes production and, deployed locally, the served model (the
        record `local-llm-up` and the API follow; a running local server loads it now)."""
        from llm_engineering import bootstrap

        serving = self.model_serving or bootstrap.container().model_serving()
        promotion = promote_candidate(serving, self.report, self.config.deploy_target)
        if promotion is None:
            raise RuntimeError("nothing to promote: the evaluation gate did not pass a candidate")
        registered = registry.get(self.config.model_name, int(promotion.model.version or 0))
        _tag_zenml_model_version(registered.card())
        self.report.deployed = promotion.model.spec
        details = [f"{promotion.model.spec} -> production, served as {promotion.model.model_id}"]
        if promotion.switched:
            details.append(f"the API asks {promotion.served.model_id}")
        if self.config.deploy_target == "sagemaker":
            details.append(_deploy_sagemaker())
        return None, "; ".join(details)


# --- helpers ---------------------------------------------------------------------------------------------
def _one_line(error: BaseException) -> str:
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text[:400]


@contextlib.contextmanager
def _local_llm() -> Iterator[None]:
    from tools.run import local_llm_for_offline_generation

    with local_llm_for_offline_generation():
        yield


def _import_handbook() -> str:
    from llm_engineering import bootstrap
    from llm_engineering.application.warehouse.backup import import_warehouse
    from tools.data_warehouse import handbook_backup_dir, missing_handbook_message

    container = bootstrap.container()
    found = handbook_backup_dir(container.settings.HANDBOOK_DATA_DIR)
    if found is None:
        raise RuntimeError(missing_handbook_message(container.settings.HANDBOOK_DATA_DIR))
    imported = import_warehouse(container.documents(), found)
    inserted = sum(item.inserted for item in imported.classes)
    existing = sum(item.skipped_existing for item in imported.classes)
    return f"handbook corpus: {inserted} new documents, {existing} already stored"


def _run_etl(config_name: str, folder: Path) -> str:
    from tools.run import resolve_etl_config

    digital_data_etl = CATALOGUE["digital_data_etl"].load()
    config_path = resolve_etl_config(CONFIGS_DIR, config_name)
    run_name = f"ct_etl_{config_path.stem}_{datetime.now():%Y_%m_%d_%H_%M_%S}"
    click.echo(f"[ct] data: digital_data_etl with {config_path.name} as {run_name}")
    with owned_run(run_name):
        digital_data_etl.with_options(config_path=str(config_path), run_name=run_name, enable_cache=False)()
    return run_name


def _tag_zenml_model_version(card: dict[str, Any]) -> None:
    """Move the ZenML Model version that training created to the `production` stage (dashboard's Models
    page), when the card knows it; the local registry alias is the source of truth for serving."""
    reference = (card.get("config") or {}).get("zenml_model")
    if not reference:
        return
    name, _, version = str(reference).partition(":")
    try:
        from zenml.client import Client

        Client().update_model_version(model_name_or_id=name, version_name_or_id=version, stage="production", force=True)
    except Exception as error:  # noqa: BLE001 - the dashboard stage is informative only
        click.echo(f"[ct] warning: could not set the ZenML model version {reference} to production: {error}")


def _deploy_sagemaker() -> str:
    """Re-deploy the SageMaker endpoint (model from HF_MODEL_ID: push the twin to the Hub in training)."""
    from tools import sagemaker

    return sagemaker.deploy_for_continuous_training()


def write_report(report: ContinuousTrainingReport, output_dir: Path) -> Path:
    import json

    folder = output_dir / report.started_at.replace(":", "-")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text(report.markdown(), encoding="utf-8")
    (folder / "report.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    return folder / "report.md"


def post_alert(report: ContinuousTrainingReport) -> None:
    from llm_engineering import bootstrap
    from llm_engineering.application.operations.alerts import Alert

    failed = next((record for record in report.stages if record.status == "failed"), None)
    alert = Alert(
        status="failed" if failed else "succeeded",
        pipeline="continuous_training",
        step=failed.name if failed else None,
        error=failed.detail if failed else None,
        details=report.summary(),
    )
    bootstrap.container().alerter().post(alert)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--budget", default="small", show_default=True, help="A budget of the CT config (small, full).")
@click.option(
    "--data", type=click.Choice(["handbook", "crawl", "skip"]), default=None, help="Override the config's data."
)
@click.option("--deploy/--no-deploy", default=True, show_default=True, help="Promote and deploy when the gate passes.")
@click.option("--fail-on-reject", is_flag=True, help="Exit with status 3 when the gate rejects the candidate.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_CONFIG,
    show_default=True,
)
@click.option("--output", type=click.Path(path_type=Path, file_okay=False), default=OUTPUT_DIR, show_default=True)
def main(budget: str, data: str | None, deploy: bool, fail_on_reject: bool, config_path: Path, output: Path) -> None:
    """Run the continuous-training chain once and report what each stage did."""
    from llm_engineering.bootstrap import use_project_zenml_store
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported
    use_project_zenml_store()  # before ZenML reads its config: this checkout's store (LOCAL_DATA_DIR/zenml)

    config = load_config(config_path)
    try:
        config.overrides(budget, "training")
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    with tempfile.TemporaryDirectory(prefix="llm-twin-ct-") as folder:
        report = ContinuousTraining(config, budget, Path(folder), deploy=deploy, data=data).run()
    path = write_report(report, output)
    click.echo(report.markdown())
    click.echo(f"Report: {path}")
    post_alert(report)
    if report.outcome == "failed":
        sys.exit(EXIT_STAGE_FAILED)
    if report.outcome == "rejected" and fail_on_reject:
        sys.exit(EXIT_REJECTED)


if __name__ == "__main__":
    main()
