"""Back up the data warehouse to JSON files, or restore it from them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

DEFAULT_DATA_DIR = Path("data/data_warehouse_raw_data")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--export-raw-data", is_flag=True, help="Write every warehouse document to DATA_DIR/<Class>.json.")
@click.option("--import-raw-data", is_flag=True, help="Insert the documents of DATA_DIR/<Class>.json (idempotent).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Folder of the JSON backup.",
)
def main(export_raw_data: bool, import_raw_data: bool, data_dir: Path) -> None:
    """Export the MongoDB data warehouse to JSON or import it back.

    Import validates every record first (bad records are reported with file and index and nothing is
    written), and skips documents already stored, so running it twice adds nothing.
    """
    if export_raw_data == import_raw_data:
        raise click.UsageError("Pass exactly one of --export-raw-data or --import-raw-data.")

    from llm_engineering import bootstrap
    from llm_engineering.application.errors import BackupValidationError
    from llm_engineering.application.warehouse.backup import export_warehouse, import_warehouse
    from llm_engineering.domain.exceptions import LLMTwinError

    bootstrap.container()
    try:
        if export_raw_data:
            counts = export_warehouse(data_dir)
            for name, count in counts.items():
                click.echo(f"{name:<26} {count:>6} records")
            click.echo(f"Exported to {data_dir}")
        else:
            report = import_warehouse(data_dir)
            for item in report.classes:
                click.echo(
                    f"{item.file:<26} {item.records:>6} records  {item.inserted:>6} new  "
                    f"{item.skipped_existing:>6} already stored"
                )
            for name in report.ignored_files:
                click.echo(f"{name:<26} ignored (not a warehouse document class)")
            click.echo(f"Imported {report.inserted} new documents from {data_dir}")
    except (BackupValidationError, FileNotFoundError, LLMTwinError) as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
