"""Continuous training: run data -> features -> datasets -> training -> evaluation gate -> deploy on the
active ZenML stack, each stage its own pipeline run, and promote the new twin only when the gate passes.

    poetry run poe run-continuous-training                  # small budget, local stack, minutes on a CPU
    poetry run poe run-continuous-training --budget full    # the configs as they are
    poetry run python -m tools.continuous_training --no-deploy --data skip

The chain itself (stage order, failures, the candidate, the gate's verdict, promotion) is the use case
`application.operations.continuous_training_chain`; this composition root reads the YAML config, wires it to
ZenML, the registry, the served model and SageMaker (`build_chain`), then writes
output/continuous_training/<started>/report.{md,json} and posts the outcome through the alerter.
Exit status: 0 when the chain ran (promoted, or the candidate was rejected by the gate), 1 when a stage
failed, 3 when `--fail-on-reject` and the gate rejected the candidate.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from llm_engineering.application.operations.continuous_training import (
    ContinuousTrainingConfig,
    ContinuousTrainingReport,
    DataSource,
    StageName,
)
from llm_engineering.application.operations.continuous_training_chain import (
    ContinuousTrainingChain,
    GateVerdict,
    LocalLLM,
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


def load_config(path: Path) -> ContinuousTrainingConfig:
    """The CT config; a clear error naming the file for a missing file or a bad key."""
    if not path.is_file():
        raise click.UsageError(f"CT config not found: {path}")
    try:
        return ContinuousTrainingConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except ValueError as error:
        raise click.UsageError(f"{path}: {error}") from error


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


# --- adapters of the chain's ports ---------------------------------------------------------------------
StageRunner = Callable[[StageName, dict[str, Any], Path, str], str]  # the signature of `run_pipeline`


class CataloguedPipelines:
    """`StagePipelines` on the catalogue's pipelines: overridden configs are written under `folder`."""

    def __init__(self, folder: Path, runner: StageRunner = run_pipeline):
        self.folder = folder
        self.runner = runner

    def run(self, stage: StageName, overrides: dict[str, Any], run_name: str) -> str:
        return self.runner(stage, overrides, self.folder, run_name)


class WarehouseData:
    """`DataSources`: the handbook backup imported into the warehouse, or `digital_data_etl` runs."""

    def __init__(self, folder: Path):
        self.folder = folder

    def import_handbook(self) -> str:
        return _import_handbook()

    def run_etl(self, config_name: str) -> str:
        return _run_etl(config_name, self.folder)


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


def _tag_zenml_model_version(card: Mapping[str, Any]) -> None:
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


def build_chain(
    config: ContinuousTrainingConfig,
    budget: str,
    folder: Path,
    deploy: bool = True,
    data: DataSource | None = None,
    pipeline_runner: StageRunner = run_pipeline,
    rejection_verdict: GateVerdict = gate_verdict,
    llm_context: LocalLLM = _local_llm,
    model_serving: ModelServing | None = None,
) -> ContinuousTrainingChain:
    """The chain wired to this checkout: ZenML runs of the catalogued pipelines (configs written under
    `folder`), their gate verdicts, the warehouse import or ETL crawl, the local LLM for dataset generation,
    the registry and served model from the container, ZenML's model stage and SageMaker. Tests inject the
    pipeline runner, the verdict reader, the LLM context and the serving use cases."""
    from llm_engineering import bootstrap

    container = bootstrap.container()
    return ContinuousTrainingChain(
        config,
        budget,
        pipelines=CataloguedPipelines(folder, pipeline_runner),
        gate_verdict=rejection_verdict,
        data_sources=WarehouseData(folder),
        local_llm=llm_context,
        registry=container.model_registry(),
        serving=model_serving or container.model_serving(),
        tag_production=_tag_zenml_model_version,
        remote_deploy=_deploy_sagemaker,
        deploy=deploy,
        data=data,
        progress=click.echo,
    )


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
def main(
    budget: str, data: DataSource | None, deploy: bool, fail_on_reject: bool, config_path: Path, output: Path
) -> None:
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
        report = build_chain(config, budget, Path(folder), deploy=deploy, data=data).run()
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
