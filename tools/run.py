"""Run the project's ZenML pipelines with their YAML configs from `configs/`."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import yaml

from llm_engineering.application.operations.pipeline_catalogue import CataloguedPipeline
from pipelines.catalogue import CATALOGUE

CONFIGS_DIR = CATALOGUE.configs_dir
ETL_TEMPLATE = "digital_data_etl_template.yaml"


@dataclass(frozen=True)
class PipelineEntry:
    """A CLI flag bound to a pipeline of the catalogue (`pipelines/catalogue.py`), which gives its module,
    function, config file, author parameter and whether it asks the local LLM."""

    flag: str
    pipeline: str
    help: str

    @property
    def catalogued(self) -> CataloguedPipeline:
        return CATALOGUE[self.pipeline]

    @property
    def module(self) -> str:
        return self.catalogued.module

    @property
    def function(self) -> str:
        return self.catalogued.function

    @property
    def config(self) -> str:
        """The config file in --config-dir (`--run-etl` takes --etl-config-filename instead)."""
        return self.catalogued.config

    @property
    def author_parameter(self) -> str | None:
        """The pipeline parameter that `--authors` overrides, for pipelines that take an author list."""
        return self.catalogued.author_parameter

    @property
    def uses_local_llm(self) -> bool:
        """Offline dataset generation calls the local LLM: it is started for the run when it is down."""
        return self.catalogued.uses_local_llm


# Order matters: when several flags are given, pipelines run in this order (the catalogue's).
PIPELINES: tuple[PipelineEntry, ...] = (
    PipelineEntry("run_end_to_end_data", "end_to_end_data", "Crawl, build features and generate datasets in one run."),
    PipelineEntry("run_etl", "digital_data_etl", "Crawl an author's links into the data warehouse."),
    PipelineEntry("run_export_artifact_to_json", "export_artifact_to_json", "Export ZenML artifacts to JSON files."),
    PipelineEntry(
        "run_feature_engineering",
        "feature_engineering",
        "Clean, chunk and embed the warehouse into Qdrant (all authors unless --authors).",
    ),
    PipelineEntry(
        "run_generate_instruct_datasets",
        "generate_instruct_datasets",
        "Generate the instruction dataset (configs/generate_instruct_datasets.yaml).",
    ),
    PipelineEntry(
        "run_generate_preference_datasets",
        "generate_preference_datasets",
        "Generate the preference dataset (configs/generate_preference_datasets.yaml).",
    ),
    PipelineEntry("run_training", "training", "Fine-tune the LLM (SFT/DPO)."),
    PipelineEntry("run_evaluation", "evaluating", "Evaluate the LLM."),
)


def available(entry: PipelineEntry) -> bool:
    """Whether the pipeline module ships in this checkout."""
    return entry.catalogued.available()


def resolve_config(config_dir: Path, name: str) -> Path:
    """`name` inside `config_dir`, else `name` as a path (absolute or relative to the working directory).

    Raises click.UsageError when neither is a file.
    """
    in_dir = config_dir / name
    if in_dir.is_file():
        return in_dir
    as_path = Path(name).expanduser()
    if as_path.is_file():
        return as_path
    raise click.UsageError(f"Config file not found: {name} (looked in {config_dir} and in {Path.cwd()})")


def resolve_etl_config(config_dir: Path, name: str) -> Path:
    """The ETL config to crawl; a missing file or the unfilled template is an error that says what to do."""
    how = (
        f"To crawl your own links: copy configs/{ETL_TEMPLATE} to e.g. configs/my_author.yaml, fill in your name "
        "and links, then run `poetry run poe run-digital-data-etl-own --config configs/my_author.yaml`."
    )
    if Path(name).name == ETL_TEMPLATE:
        raise click.UsageError(f"{name} is the template, not a config to run. {how}")
    try:
        return resolve_config(config_dir, name)
    except click.UsageError as error:
        raise click.UsageError(f"{error.message}. {how}") from None


def parse_authors(values: Sequence[str]) -> list[str]:
    """`("Jane Doe, Paul Iusztin", "Ada Lovelace")` -> the names, stripped, de-duplicated, in order."""
    names = (name.strip() for value in values for name in value.split(","))
    return list(dict.fromkeys(name for name in names if name))


def parse_params(values: Sequence[str]) -> dict[str, Any]:
    """`("profile=gpu", "run_dpo=false")` -> {"profile": "gpu", "run_dpo": False}: values read as YAML."""
    parameters: dict[str, Any] = {}
    for value in values:
        key, separator, raw = value.partition("=")
        if not separator or not key.strip():
            raise click.UsageError(f"--param expects KEY=VALUE, got {value!r}.")
        try:
            parameters[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as error:
            raise click.UsageError(f"--param {key.strip()}: {raw!r} is not a YAML value ({error}).") from None
    return parameters


def read_config(config_path: Path) -> dict[str, Any]:
    """A run config as a dict; a file that is not a YAML mapping is a usage error naming the file."""
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise click.UsageError(f"{config_path} is not valid YAML: {error}") from None
    if not isinstance(config, dict) or not isinstance(config.get("parameters") or {}, dict):
        raise click.UsageError(f"{config_path}: expected a mapping with a `parameters:` mapping.")
    return config


def etl_author(config_path: Path) -> str | None:
    """The `user_full_name` an ETL config crawls for, or None when the file does not name one."""
    parameters = read_config(config_path).get("parameters") or {}
    name = parameters.get("user_full_name")
    return name.strip() if isinstance(name, str) and name.strip() else None


def with_parameters(config_path: Path, parameters: dict[str, Any], folder: Path) -> Path:
    """A copy of the run config in `folder` with `parameters` set (see `config_with_parameters`)."""
    from llm_engineering.infrastructure.zenml_run_config import config_with_parameters

    return config_with_parameters(config_path, parameters, folder)


def run_pipeline(entry: PipelineEntry, config_path: Path, no_cache: bool) -> None:
    if not config_path.is_file():
        raise click.UsageError(f"Config file not found: {config_path}")
    pipeline = entry.catalogued.load()
    run_name = f"{entry.function}_run_{datetime.now():%Y_%m_%d_%H_%M_%S}"
    click.echo(f"Running {entry.function} with {config_path} as {run_name}")
    from llm_engineering.bootstrap import owned_run

    with owned_run(run_name):  # marks runs left "running" by a killed process failed, then records this one
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
    help="Config for --run-etl: a file in configs/ or a path (start from configs/digital_data_etl_template.yaml).",
)
@click.option(
    "--config-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=CONFIGS_DIR,
    show_default="configs/",
    help="Folder of the pipeline YAML configs.",
)
@click.option(
    "--authors",
    "authors_option",
    multiple=True,
    metavar="NAMES",
    help='Authors for the feature and dataset pipelines, comma-separated, repeatable (e.g. "Jane Doe,Paul Iusztin"); '
    "overrides the config's list. Default: with --run-etl the crawled author, else the config's list if it "
    "has one, else every author in the warehouse.",
)
@click.option(
    "--param",
    "param_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a pipeline parameter for this call (VALUE read as YAML), repeatable, e.g. --param profile=gpu "
    "--param instruct_dataset=../shared/data/handbook/artifacts/instruct_datasets.json.",
)
@click.option("--export-settings", is_flag=True, help="Store the current settings as the ZenML secret `settings`.")
def main(
    no_cache: bool,
    etl_config_filename: str,
    config_dir: Path,
    authors_option: tuple[str, ...],
    param_options: tuple[str, ...],
    export_settings: bool,
    **flags: bool,
) -> None:
    """LLM Twin command line: run one or more pipelines, in the order listed below.

    \b
    Examples:
      python -m tools.run --run-etl --etl-config-filename digital_data_etl_maxime_labonne.yaml
      python -m tools.run --run-feature-engineering --no-cache
      python -m tools.run --run-feature-engineering --authors "Jane Doe,Paul Iusztin"
      python -m tools.run --run-etl --run-feature-engineering --etl-config-filename configs/my_author.yaml
    --etl-config-filename is a file in configs/ or a path. With --run-etl and --run-feature-engineering
    together, features are built for the crawled author unless --authors says otherwise.
    Parameters come from the YAML configs in configs/; edit or copy them to change a run.
    """
    from llm_engineering.bootstrap import use_project_zenml_store
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported
    use_project_zenml_store()  # before ZenML reads its config: this checkout's store (LOCAL_DATA_DIR/zenml)

    chosen = [entry for entry in PIPELINES if flags.get(entry.flag)]
    if not chosen and not export_settings:
        raise click.UsageError("Pass at least one action flag (see --help).")
    for entry in chosen:
        if not available(entry):
            raise click.UsageError(f"--{entry.flag.replace('_', '-')}: {entry.module} is not in this checkout yet.")
    overrides = parse_params(param_options)
    authors = parse_authors(authors_option)
    if authors_option and not authors:
        raise click.UsageError('--authors: give at least one name, e.g. --authors "Jane Doe,Paul Iusztin".')
    if authors and not any(entry.author_parameter for entry in chosen):
        takers = [f"--{entry.flag.replace('_', '-')}" for entry in PIPELINES if entry.author_parameter]
        raise click.UsageError(f"--authors applies to {', '.join(takers)}; pass one of them too.")
    # Resolve every config before running anything, so a typo does not surface after a long crawl.
    configs = {
        entry.flag: resolve_etl_config(config_dir, etl_config_filename)
        if entry.flag == "run_etl"
        else resolve_config(config_dir, entry.config)
        for entry in chosen
    }
    crawled_author = etl_author(configs["run_etl"]) if "run_etl" in configs else None
    local_llm_checked = False
    if export_settings:
        from llm_engineering import bootstrap

        click.echo(bootstrap.export_settings_to_zenml())
    with tempfile.TemporaryDirectory(prefix="llm-twin-run-") as folder, contextlib.ExitStack() as stack:
        for entry in chosen:
            config_path = configs[entry.flag]
            if entry.author_parameter:
                config_path = _with_authors(entry, config_path, authors, crawled_author, Path(folder))
            if overrides:
                config_path = with_parameters(config_path, overrides, Path(folder))
            if entry.uses_local_llm and not local_llm_checked:
                local_llm_checked = True
                stack.enter_context(local_llm_for_offline_generation())
            run_pipeline(entry, config_path, no_cache)


@contextlib.contextmanager
def local_llm_for_offline_generation() -> Iterator[None]:
    """Offline dataset generation asks the local LLM for instructions and rejected answers. When no teacher
    is configured and the settings point at the local server but it is down, start it for this call and
    stop it afterwards; a server that was already up is left alone."""
    from llm_engineering import bootstrap
    from llm_engineering.domain.exceptions import LLMTwinError
    from llm_engineering.settings import get_settings

    settings = get_settings()
    if bootstrap.teacher_configured(settings) or not bootstrap.uses_local_llm(settings):
        yield
        return
    try:
        server = bootstrap.build_local_llm_server(settings, bootstrap.model_to_serve_locally(settings).model_id)
    except LLMTwinError as error:
        click.echo(f"warning: the local LLM cannot serve its model ({error}); instructions will come from templates.")
        yield
        return
    if server.status().healthy:
        yield
        return
    click.echo("Offline dataset generation: starting the local LLM for this run (poe local-llm-up keeps it up).")
    if server.notice:
        click.echo(f"note: {server.notice}")
    try:
        server.prepare()
        click.echo(server.start(timeout_s=600))
    except LLMTwinError as error:
        click.echo(f"warning: the local LLM did not start ({error}); instructions will come from templates.")
        yield
        return
    try:
        yield
    finally:
        click.echo(server.stop())


def _with_authors(
    entry: PipelineEntry, config_path: Path, authors: list[str], crawled_author: str | None, folder: Path
) -> Path:
    """The config to run `entry` with: `--authors` first, then the author crawled in this call, then the
    config's own list; with none of them the pipeline gets no list and uses every author in the warehouse."""
    parameter = entry.author_parameter or "author_full_names"
    parameters = read_config(config_path).get("parameters") or {}
    if authors:
        chosen, source = authors, "--authors"
    elif crawled_author:
        chosen, source = [crawled_author], "the author crawled by --run-etl"
    elif parameters.get(parameter):
        click.echo(f"{entry.function}: authors {parameters[parameter]} (from {config_path})")
        return config_path
    else:
        click.echo(f"{entry.function}: all authors in the warehouse (no author list given)")
        return config_path
    click.echo(f"{entry.function}: authors {chosen} (from {source})")
    return with_parameters(config_path, {parameter: chosen}, folder)


if __name__ == "__main__":
    sys.exit(main())
