"""Run the project's ZenML pipelines with their YAML configs from `configs/`."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click

CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"


@dataclass(frozen=True)
class PipelineEntry:
    """A CLI flag bound to a pipeline function and its default config file."""

    flag: str
    module: str
    function: str
    config: str
    help: str


# Order matters: when several flags are given, pipelines run in this order.
PIPELINES: tuple[PipelineEntry, ...] = (
    PipelineEntry(
        "run_end_to_end_data",
        "pipelines.end_to_end_data",
        "end_to_end_data",
        "end_to_end_data.yaml",
        "Crawl, build features and generate datasets in one run.",
    ),
    PipelineEntry(
        "run_etl",
        "pipelines.digital_data_etl",
        "digital_data_etl",
        "",  # from --etl-config-filename
        "Crawl an author's links into the data warehouse.",
    ),
    PipelineEntry(
        "run_export_artifact_to_json",
        "pipelines.export_artifact_to_json",
        "export_artifact_to_json",
        "export_artifact_to_json.yaml",
        "Export ZenML artifacts to JSON files.",
    ),
    PipelineEntry(
        "run_feature_engineering",
        "pipelines.feature_engineering",
        "feature_engineering",
        "feature_engineering.yaml",
        "Clean, chunk and embed the warehouse into Qdrant.",
    ),
    PipelineEntry(
        "run_generate_instruct_datasets",
        "pipelines.generate_datasets",
        "generate_datasets",
        "generate_instruct_datasets.yaml",
        "Generate the instruction dataset.",
    ),
    PipelineEntry(
        "run_generate_preference_datasets",
        "pipelines.generate_datasets",
        "generate_datasets",
        "generate_preference_datasets.yaml",
        "Generate the preference dataset.",
    ),
    PipelineEntry("run_training", "pipelines.training", "training", "training.yaml", "Fine-tune the LLM (SFT/DPO)."),
    PipelineEntry("run_evaluation", "pipelines.evaluating", "evaluating", "evaluating.yaml", "Evaluate the LLM."),
)


def available(entry: PipelineEntry) -> bool:
    """Whether the pipeline module ships in this checkout."""
    return importlib.util.find_spec(entry.module) is not None


def run_pipeline(entry: PipelineEntry, config_path: Path, no_cache: bool) -> None:
    if not config_path.is_file():
        raise click.UsageError(f"Config file not found: {config_path}")
    module = importlib.import_module(entry.module)
    pipeline = getattr(module, entry.function)
    run_name = f"{entry.function}_run_{datetime.now():%Y_%m_%d_%H_%M_%S}"
    click.echo(f"Running {entry.function} with {config_path} as {run_name}")
    pipeline.with_options(config_path=str(config_path), run_name=run_name, enable_cache=not no_cache)()


def _options(function):  # type: ignore[no-untyped-def]
    # Pipelines whose module is not in this checkout are hidden from --help.
    for entry in reversed(PIPELINES):
        option = click.option(
            f"--{entry.flag.replace('_', '-')}", entry.flag, is_flag=True, help=entry.help, hidden=not available(entry)
        )
        function = option(function)
    return function


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--no-cache", is_flag=True, help="Disable ZenML step caching for the pipelines of this call.")
@_options
@click.option(
    "--etl-config-filename",
    default="digital_data_etl_paul_iusztin.yaml",
    show_default=True,
    help="Config (in configs/) for --run-etl.",
)
@click.option(
    "--config-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=CONFIGS_DIR,
    show_default="configs/",
    help="Folder of the pipeline YAML configs.",
)
@click.option("--export-settings", is_flag=True, help="Store the current settings as the ZenML secret `settings`.")
def main(no_cache: bool, etl_config_filename: str, config_dir: Path, export_settings: bool, **flags: bool) -> None:
    """LLM Twin command line: run one or more pipelines, in the order listed below.

    \b
    Examples:
      python -m tools.run --run-etl --etl-config-filename digital_data_etl_maxime_labonne.yaml
      python -m tools.run --run-feature-engineering --no-cache
    Parameters come from the YAML configs in configs/; edit or copy them to change a run.
    """
    chosen = [entry for entry in PIPELINES if flags.get(entry.flag)]
    if not chosen and not export_settings:
        raise click.UsageError("Pass at least one action flag (see --help).")
    for entry in chosen:
        if not available(entry):
            raise click.UsageError(f"--{entry.flag.replace('_', '-')}: {entry.module} is not in this checkout yet.")
    if export_settings:
        from llm_engineering.infrastructure.zenml_secrets import export_settings_to_zenml

        click.echo(export_settings_to_zenml())
    for entry in chosen:
        config_name = etl_config_filename if entry.flag == "run_etl" else entry.config
        run_pipeline(entry, config_dir / config_name, no_cache)


if __name__ == "__main__":
    sys.exit(main())
