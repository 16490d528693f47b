"""Back up the data warehouse to JSON files, or restore it from them (the book's corpus included)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from loguru import logger

DEFAULT_DATA_DIR = Path("data/data_warehouse_raw_data")
HANDBOOK_REPOSITORY = "https://github.com/PacktPublishing/LLM-Engineers-Handbook"
HANDBOOK_BACKUP_FOLDER = "data/data_warehouse_raw_data"
# Logs each class as it goes (for pipelines and notebooks); this tool prints the same counts as one table.
BACKUP_MODULE = "llm_engineering.application.warehouse.backup"


def print_summary_only() -> None:
    """Drop the backup module's per-class INFO lines from the log, so every count is printed once: in the
    table below. Its warnings and errors, and every other module's logs, still show."""

    def keep(record: dict) -> bool:
        return not (record["name"] == BACKUP_MODULE and record["level"].no < logger.level("WARNING").no)

    logger.remove()
    logger.add(sys.stderr, level=os.environ.get("LOGURU_LEVEL", "DEBUG"), filter=keep)


def handbook_backup_dir(folder: Path) -> Path | None:
    """The folder of the book's warehouse backup: `folder/warehouse` if there is one, else `folder` itself when
    it holds `<Class>.json` files; None when neither exists."""
    if (folder / "warehouse").is_dir():
        return folder / "warehouse"
    if folder.is_dir() and any(folder.glob("*Document.json")):
        return folder
    return None


def missing_handbook_message(folder: Path) -> str:
    """What the book's corpus is and what to do without it, for a folder where it is not."""
    return (
        f"The book's corpus is not in {folder} (HANDBOOK_DATA_DIR, or --dir).\n"
        "It is the data warehouse backup that the book's public repository publishes: "
        f"{HANDBOOK_REPOSITORY}, folder {HANDBOOK_BACKUP_FOLDER} (UserDocument.json, ArticleDocument.json, ...: "
        "2 authors, 76 articles). This project does not ship those articles.\n"
        "To use it, download that folder and pass it:\n"
        "  poetry run poe run-import-handbook-warehouse --dir path/to/data_warehouse_raw_data\n"
        "  (or set HANDBOOK_DATA_DIR=path/to/data_warehouse_raw_data in .env)\n"
        "Without it: `poetry run poe quickstart` loads a small demo corpus (data/demo/articles), or crawl your own "
        "links: copy configs/digital_data_etl_template.yaml to configs/my_author.yaml, fill it in, and run "
        "`poetry run poe run-etl-and-features-own --config configs/my_author.yaml`."
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--export-raw-data", is_flag=True, help="Write every warehouse document to DATA_DIR/<Class>.json.")
@click.option("--import-raw-data", is_flag=True, help="Insert the documents of DATA_DIR/<Class>.json (idempotent).")
@click.option(
    "--import-handbook",
    is_flag=True,
    help="Import the book's corpus (its warehouse backup, 2 authors, 76 articles) from HANDBOOK_DATA_DIR, "
    "or from --data-dir when given (idempotent).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    show_default=str(DEFAULT_DATA_DIR),
    help="Folder of the JSON backup (with --import-handbook: default HANDBOOK_DATA_DIR).",
)
def main(export_raw_data: bool, import_raw_data: bool, import_handbook: bool, data_dir: Path | None) -> None:
    """Export the MongoDB data warehouse to JSON or import it back.

    Import validates every record first (bad records are reported with file and index and nothing is
    written), and skips documents already stored, so running it twice adds nothing.
    """
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported

    if export_raw_data + import_raw_data + import_handbook != 1:
        raise click.UsageError("Pass exactly one of --export-raw-data, --import-raw-data or --import-handbook.")

    if import_handbook:
        from llm_engineering.settings import get_settings

        folder = data_dir or get_settings().HANDBOOK_DATA_DIR
        found = handbook_backup_dir(folder)
        if found is None:
            click.echo(f"Error: {missing_handbook_message(folder)}", err=True)
            sys.exit(1)
        data_dir = found
    data_dir = data_dir or DEFAULT_DATA_DIR
    if import_raw_data and not data_dir.is_dir():
        click.echo(
            f"Error: backup folder not found: {data_dir}. Pass the folder of a backup made with --export-raw-data "
            "(--data-dir path/to/backup); for the book's corpus use --import-handbook.",
            err=True,
        )
        sys.exit(1)

    from llm_engineering import bootstrap
    from llm_engineering.application.errors import BackupValidationError
    from llm_engineering.application.warehouse.backup import export_warehouse, import_warehouse
    from llm_engineering.domain.exceptions import LLMTwinError

    print_summary_only()
    documents = bootstrap.container().documents()
    try:
        if export_raw_data:
            counts = export_warehouse(documents, data_dir)
            for name, count in counts.items():
                click.echo(f"{name:<26} {count:>6} records")
            click.echo(f"Exported to {data_dir}")
        else:
            report = import_warehouse(documents, data_dir)
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
