"""Start, stop and inspect the local infrastructure (warehouse + ZenML dashboard)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from llm_engineering.infrastructure.local.local_infrastructure import LocalInfrastructure


def _infrastructure() -> LocalInfrastructure:
    from llm_engineering.bootstrap import build_local_infrastructure
    from llm_engineering.settings import get_settings

    return build_local_infrastructure(get_settings())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Local infrastructure: Docker compose where an engine answers, otherwise the embedded nx-27017 server."""
    from llm_engineering.bootstrap import use_project_zenml_store
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported
    use_project_zenml_store()  # before ZenML reads its config: this checkout's store (LOCAL_DATA_DIR/zenml)


@main.command()
@click.option("--no-docker", is_flag=True, help="Use the embedded nx-27017 server even when Docker answers.")
@click.option("--no-zenml", is_flag=True, help="Do not start the ZenML dashboard.")
@click.option("--no-warehouse", is_flag=True, help="Start only the ZenML dashboard.")
def up(no_docker: bool, no_zenml: bool, no_warehouse: bool) -> None:
    """Start the warehouse and this checkout's ZenML dashboard (safe to run twice).

    The dashboard serves this checkout's store (LOCAL_DATA_DIR/zenml) on this checkout's port (8237, or the
    next free one when another checkout holds it). It takes about 30 s to start; progress is printed while
    it does, then where the runs are.
    """
    infrastructure = _infrastructure()
    if not no_warehouse:
        click.echo(infrastructure.start_warehouse(prefer_docker=not no_docker))
    if not no_zenml:
        click.echo(infrastructure.start_zenml(progress=click.echo))


@main.command()
@click.option("--no-warehouse", is_flag=True, help="Stop only this checkout's ZenML dashboard.")
def down(no_warehouse: bool) -> None:
    """Stop what `up` started, and this checkout's own ZenML dashboard (safe to run twice)."""
    infrastructure = _infrastructure()
    click.echo(infrastructure.stop_zenml())
    if not no_warehouse:
        click.echo(infrastructure.stop_warehouse())


@main.command()
def status() -> None:
    """Print what runs where, one line per service: UP or DOWN, and what started it. Pipeline runs left
    "running" by a process that was killed are marked failed, and counted on the last line."""
    for line in _infrastructure().status():
        click.echo(line)
    click.echo(f"zenml runs  {_orphaned_runs()}")


def _orphaned_runs() -> str:
    from llm_engineering.bootstrap import mark_orphaned_runs

    try:
        return mark_orphaned_runs().describe()
    except Exception as error:  # noqa: BLE001 - a status command reports, it does not fail
        return f"not checked ({type(error).__name__}: {error})"


if __name__ == "__main__":
    main()
