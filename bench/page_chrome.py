"""Platform chrome left in the book's corpus: share of documents and chunks with chrome markers, before and
after the cleaning step's chrome rules.

Reads the warehouse backup (`../shared/data/handbook/warehouse/*.json`, no database needed), cleans it with
the feature pipeline's `clean_documents` twice, once with the chrome rules switched off ("before": the
cleaner as it was) and once as shipped ("after"), and chunks both with the pipeline's handlers (the
configured embedding model's tokenizer counts tokens; it is only loaded, nothing is embedded). A marker is
a string only chrome writes ("Sign in", "Open in app", "Share this post", "16 min read", ...: see
`page_chrome.CHROME_MARKERS`). The raw pages and the book's own cleaned artifact are counted as references.

    poetry run python -m bench.page_chrome [--json]
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from unittest import mock

import click

from bench.duplicates import HANDBOOK, warehouse_documents

DONE_WHEN = ("Sign in", "Open in app")


def _share(count: int, total: int) -> str:
    return f"{count}/{total} ({count / total:.0%})" if total else "0/0"


def count_markers(texts: Iterable[str]) -> dict[str, Any]:
    """How many texts hold a chrome marker, which markers, and how many hold the done-when ones."""
    from llm_engineering.application.preprocessing.operations.page_chrome import chrome_markers

    texts = list(texts)
    markers: Counter[str] = Counter()
    with_chrome = with_done_when = 0
    for text in texts:
        found = chrome_markers(text)
        markers.update(found)
        with_chrome += bool(found)
        with_done_when += any(marker in text for marker in DONE_WHEN)
    return {
        "texts": len(texts),
        "with_chrome": with_chrome,
        "with_sign_in_or_open_in_app": with_done_when,
        "markers": dict(markers.most_common(8)),
    }


def measure(handbook: Path) -> dict[str, Any]:
    from loguru import logger

    from llm_engineering import bootstrap
    from llm_engineering.application.preprocessing.feature_engineering import chunk_documents, clean_documents
    from llm_engineering.application.preprocessing.operations import cleaning

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    raw = warehouse_documents(handbook / "warehouse")
    embedder = bootstrap.container().embedder()
    figures: dict[str, Any] = {
        "raw pages": {"documents": count_markers(" ".join(map(str, d.content.values())) for d in raw)},
    }
    artifact = handbook / "artifacts" / "cleaned_documents.json"
    if artifact.is_file():
        records = json.loads(artifact.read_text(encoding="utf-8"))["artifact_data"]
        figures["book's cleaned artifact"] = {"documents": count_markers(record["content"] for record in records)}
    with mock.patch.object(cleaning, "remove_chrome", lambda pieces: list(pieces)):
        before = clean_documents(raw).documents
    after = clean_documents(raw).documents
    for name, documents in (("cleaned, chrome rules off", before), ("cleaned, chrome rules on", after)):
        chunks, _ = chunk_documents(None, documents, embedder, incremental=False)
        figures[name] = {
            "documents": count_markers(document.content for document in documents),
            "chunks": count_markers(chunk.content for chunk in chunks),
            "characters": sum(len(document.content) for document in documents),
        }
    return figures


def report(figures: dict[str, Any]) -> None:
    print(f"{'':28}{'documents with chrome':>24}{'chunks with chrome':>22}{'with Sign in/Open in app':>30}")
    for name, entry in figures.items():
        documents, chunks = entry["documents"], entry.get("chunks")
        done_when = chunks or documents
        print(
            f"{name:28}{_share(documents['with_chrome'], documents['texts']):>24}"
            f"{_share(chunks['with_chrome'], chunks['texts']) if chunks else '-':>22}"
            f"{_share(done_when['with_sign_in_or_open_in_app'], done_when['texts']):>30}"
        )
    for name, entry in figures.items():
        markers = (entry.get("chunks") or entry["documents"])["markers"]
        shown = ", ".join(f"{marker!r} x{count}" for marker, count in markers.items()) or "none"
        print(f"  {name}: {shown}")
    off, on = figures["cleaned, chrome rules off"], figures["cleaned, chrome rules on"]
    print(f"characters: {off['characters']:,} -> {on['characters']:,} (chrome rules off -> on)")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--handbook", type=click.Path(path_type=Path), default=HANDBOOK, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def main(handbook: Path, as_json: bool) -> None:
    """Print the share of documents and chunks with chrome markers, before and after the chrome rules."""
    if not (handbook / "warehouse").is_dir():
        raise click.ClickException(f"The book's warehouse backup is not at {handbook / 'warehouse'}.")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the tokenizer comes from the local cache, never a hub
    figures = measure(handbook)
    if as_json:
        print(json.dumps(figures, indent=2))
    else:
        report(figures)


if __name__ == "__main__":
    sys.exit(main())
