"""Datasets outside a pipeline run: register a dataset file or folder as a ZenML artifact, or show one.

python -m tools.datasets import-artifacts [--source PATH ...]   # default: the book's two datasets
python -m tools.datasets show [instruct_datasets|preference_datasets] [--samples 3]
"""

from __future__ import annotations

from pathlib import Path

import click

BOOK_DATASET_FILES = ("instruct_datasets.json", "preference_datasets.json")


def book_dataset_paths(handbook_dir: Path) -> list[Path]:
    """The book's exported datasets under HANDBOOK_DATA_DIR (`artifacts/` or the folder itself)."""
    for folder in (handbook_dir / "artifacts", handbook_dir):
        found = [folder / name for name in BOOK_DATASET_FILES if (folder / name).is_file()]
        if found:
            return found
    return []


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Dataset artifacts: import files as ZenML artifacts, print what the latest artifact holds."""
    from llm_engineering.bootstrap import use_project_zenml_store
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported
    use_project_zenml_store()  # before ZenML reads its config: this checkout's store (LOCAL_DATA_DIR/zenml)


@main.command("import-artifacts")
@click.option(
    "--source",
    "sources",
    multiple=True,
    type=click.Path(path_type=Path, exists=True),
    help="A dataset file (the book's export, or export_artifact_to_json output) or an exported folder; repeatable. "
    "Default: the book's instruct and preference datasets under HANDBOOK_DATA_DIR/artifacts.",
)
def import_artifacts(sources: tuple[Path, ...]) -> None:
    """Save each dataset as the ZenML artifact its type names (instruct_datasets / preference_datasets), so the
    training pipeline can run on it; the dashboard shows its counts and a preview."""
    from zenml import save_artifact

    from llm_engineering.application.errors import DatasetFileError
    from llm_engineering.model.dataset_files import load_dataset_source
    from llm_engineering.settings import get_settings
    from steps.materializers import TrainTestSplitMaterializer

    paths = list(sources) or book_dataset_paths(get_settings().HANDBOOK_DATA_DIR)
    if not paths:
        raise click.ClickException(
            f"No dataset given and none of {', '.join(BOOK_DATASET_FILES)} under {get_settings().HANDBOOK_DATA_DIR}"
            "/artifacts; pass --source PATH (a dataset file or a folder written by the dataset pipeline)."
        )
    for path in paths:
        try:
            dataset = load_dataset_source(path)
        except DatasetFileError as error:
            raise click.ClickException(str(error)) from error
        version = save_artifact(
            dataset,
            name=dataset.artifact_name,
            materializer=TrainTestSplitMaterializer,
            tags=["dataset", str(dataset.dataset_type), "imported"],
            user_metadata={"source": str(path.resolve())},
        )
        counts = dataset.counts()
        click.echo(
            f"{path} -> artifact {dataset.artifact_name} v{version.version}: train {counts['train']}, test {counts['test']}"
        )


@main.command()
@click.argument("name", default="instruct_datasets", type=click.Choice(["instruct_datasets", "preference_datasets"]))
@click.option("--samples", default=3, show_default=True, help="Train samples to print.")
def show(name: str, samples: int) -> None:
    """Counts, provenance and a few samples of the latest version of a dataset artifact."""
    from collections import Counter

    from zenml.client import Client

    try:
        artifact = Client().get_artifact_version(name)
    except KeyError as error:
        raise click.ClickException(
            f"No artifact {name!r} yet: run the dataset pipeline (poe run-generate-*-datasets-pipeline) "
            "or import one (python -m tools.datasets import-artifacts)."
        ) from error
    dataset = artifact.load()
    click.echo(f"{name} v{artifact.version} ({dataset.dataset_type}): {dataset.counts()}")
    train = dataset.samples("train")
    sources = Counter(f"{s.provenance.method}/{s.provenance.instruction_source}" for s in train)
    click.echo(
        f"train provenance: {dict(sources)}; documents shared by train and test: {len(dataset.shared_documents())}"
    )
    for sample in train[:samples]:
        click.echo(f"\n# {sample.instruction}\n{sample.answer[:600]}")
        if hasattr(sample, "rejected"):
            click.echo(f"-- rejected: {sample.rejected[:400]}")


if __name__ == "__main__":
    main()
