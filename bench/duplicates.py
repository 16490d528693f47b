"""Copies of one article in the book's corpus: the groups the feature pipeline folds into one document.

Reads the warehouse backup (`../shared/data/handbook/warehouse/*.json`, no database needed), cleans it
with the feature pipeline's `clean_documents` (which folds copies) and prints the groups found: the kept
document and each folded copy, with titles, links and their overlap. It checks that a second run gives
the very same documents (ids and content hashes: nothing would be re-embedded, duplicated or lost), and
runs the same detector over the book's own cleaned artifact (`artifacts/cleaned_documents.json`, cleaned
by the book's regex) as a cross-check.

    poetry run python -m bench.duplicates [--json]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HANDBOOK = PROJECT_ROOT.parent / "shared" / "data" / "handbook"


def warehouse_documents(folder: Path) -> list[Any]:
    """The backup's content documents (users left out), validated as the import would."""
    from llm_engineering.application.warehouse.backup import load_backup
    from llm_engineering.domain.documents import UserDocument

    by_class, _ = load_backup(folder)
    return [document for cls, documents in by_class.items() if cls is not UserDocument for document in documents]


def artifact_documents(path: Path) -> list[Any]:
    """The book's cleaned documents (its regex cleaner's output) as cleaned articles."""
    from llm_engineering.domain.cleaned_documents import CleanedArticleDocument

    records = json.loads(path.read_text(encoding="utf-8"))["artifact_data"]
    return [CleanedArticleDocument.model_validate(record) for record in records]


def measure(handbook: Path) -> dict[str, Any]:
    from loguru import logger

    from llm_engineering.application.preprocessing.duplicates import fold_copies
    from llm_engineering.application.preprocessing.feature_engineering import clean_documents

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    raw = warehouse_documents(handbook / "warehouse")
    started = time.perf_counter()
    first = clean_documents(raw)
    seconds = time.perf_counter() - started
    second = clean_documents(raw)
    signature = [(str(d.id), d.content_hash) for d in first.documents]
    figures: dict[str, Any] = {
        "raw_documents": len(raw),
        "cleaned_documents": len(first.documents),
        "duplicate_groups": len(first.duplicate_groups),
        "folded_copies": sum(len(group.folded) for group in first.duplicate_groups),
        "groups": [group.as_dict() for group in first.duplicate_groups],
        "clean_and_fold_s": round(seconds, 2),
        "rerun_identical": signature == [(str(d.id), d.content_hash) for d in second.documents],
        "every_document_accounted_for": len(first.documents) + sum(len(g.folded) for g in first.duplicate_groups)
        == len(raw) - len(first.failures),
        "failures": first.failures,
    }
    artifact = handbook / "artifacts" / "cleaned_documents.json"
    if artifact.is_file():
        folded = fold_copies(artifact_documents(artifact))
        figures["book_artifact"] = {
            "documents": len(folded.documents) + folded.num_folded,
            "duplicate_groups": len(folded.groups),
            "groups": [
                [group.as_dict()["kept"]["link"], *(copy["link"] for copy in group.as_dict()["folded"])]
                for group in folded.groups
            ],
        }
    return figures


def report(figures: dict[str, Any]) -> None:
    print(
        f"warehouse backup: {figures['raw_documents']} documents -> {figures['cleaned_documents']} cleaned documents; "
        f"{figures['duplicate_groups']} duplicate groups ({figures['folded_copies']} copies folded) "
        f"in {figures['clean_and_fold_s']} s (clean + fold)"
    )
    for number, group in enumerate(figures["groups"], start=1):
        kept = group["kept"]
        print(f"\n[{number}] kept:   {kept['title']}\n          {kept['link']}")
        for copy in group["folded"]:
            print(
                f"    folded: {copy['title']}  (containment {copy['containment']:.2f}, Jaccard {copy['jaccard']:.2f})"
                f"\n          {copy['link']}"
            )
    print(
        f"\nre-run gives identical documents (ids and content hashes): {figures['rerun_identical']}; "
        f"every document kept or folded: {figures['every_document_accounted_for']}"
    )
    book = figures.get("book_artifact")
    if book:
        print(
            f"book's cleaned artifact ({book['documents']} documents, the book's cleaner): "
            f"{book['duplicate_groups']} duplicate groups"
        )
        for links in book["groups"]:
            print("    " + "  =  ".join(links))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--handbook", type=click.Path(path_type=Path), default=HANDBOOK, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def main(handbook: Path, as_json: bool) -> None:
    """Print the duplicate groups of the book's corpus."""
    if not (handbook / "warehouse").is_dir():
        raise click.ClickException(f"The book's warehouse backup is not at {handbook / 'warehouse'}.")
    figures = measure(handbook)
    if as_json:
        print(json.dumps(figures, indent=2))
    else:
        report(figures)


if __name__ == "__main__":
    sys.exit(main())
