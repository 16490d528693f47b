"""Evaluate RAG retrieval on a labelled query set: recall@k, MRR, nDCG, context precision and latency,
overall, per query type and per category, over the real retriever and feature store (no LLM call).

    poetry run poe run-rag-evaluation [--dataset latest] [--search-mode hybrid|dense] [--titles]

Queries come from a dataset's held-out test split (every generated instruction knows its source document),
from `--queries` YAML files of hand-written cases ({query, links: [...], category, query_type}), and, with
`--titles`, from the articles' own titles (the title -> article check of bench/rag_latency.py).
The report is printed and written to output/rag_evaluation.md and .json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from llm_engineering.domain.base.nosql import DocumentRepository

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = PROJECT_ROOT / "output" / "rag_evaluation"


def dataset_queries(source: str, split: str) -> list[Any]:
    """Labelled queries of a dataset: `latest` (or `zenml:<version>`) instruct_datasets artifact, or a path."""
    from llm_engineering.application.evaluation.labelled_queries import labelled_queries

    if source == "latest" or source.startswith("zenml:"):
        from zenml.client import Client

        version = None if source == "latest" else source.removeprefix("zenml:")
        try:
            dataset = Client().get_artifact_version("instruct_datasets", version=version).load()
        except KeyError as error:
            raise click.ClickException(
                "No instruct_datasets artifact: run `poe run-generate-instruct-datasets-pipeline` first, "
                "or pass --dataset PATH."
            ) from error
    else:
        from llm_engineering.model.dataset_files import load_dataset_source

        dataset = load_dataset_source(source)
    return labelled_queries(dataset, split)


def hand_written_queries(documents: DocumentRepository, path: Path) -> list[Any]:
    """The cases of a YAML file ({query, links, category, query_type}), links resolved in the warehouse's
    `documents`."""
    import yaml

    from llm_engineering.application.evaluation.labelled_queries import queries_from_cases
    from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument

    def resolve_link(link: str) -> str | None:
        for document_class in (ArticleDocument, PostDocument, RepositoryDocument):
            document = documents.find(document_class, link=link)
            if document is not None:
                return str(document.id)
        return None

    try:
        queries, skipped = queries_from_cases(yaml.safe_load(path.read_text()) or [], resolve_link)
    except ValueError as error:
        raise click.ClickException(f"{path}: {error}") from error
    if skipped:
        click.echo(f"{path}: {len(skipped)} of {len(skipped) + len(queries)} cases skipped (documents not stored)")
    return queries


def title_queries(documents: DocumentRepository) -> list[Any]:
    """One query per article of the warehouse's `documents`: its title, relevant = the article itself."""
    from llm_engineering.application.evaluation.labelled_queries import LabelledQuery
    from llm_engineering.domain.documents import ArticleDocument

    queries = []
    for article in documents.iter_find(ArticleDocument):
        title = str(article.content.get("Title") or "").strip()
        if title:
            queries.append(LabelledQuery(title, frozenset({str(article.id)}), "title", "articles"))
    return queries


def retriever_search(k: int, search_mode: str, support_weight: float | None, candidates: int | None) -> Any:
    """The configured retriever (no LLM steps), adjusted by the CLI's options; returns query -> document ids."""
    from llm_engineering import bootstrap

    retriever = bootstrap.container().retriever(use_llm=False)
    retriever.search_mode = search_mode  # type: ignore[assignment]
    if support_weight is not None:
        retriever.document_support_weight = support_weight if support_weight >= 0 else None
    if candidates is not None:
        retriever.hybrid_candidates = candidates
    retriever.search("warm-up", k=k, expand_to_n_queries=1)

    def search(query: str) -> list[str]:
        return [str(chunk.document_id) for chunk in retriever.search(query, k=k, expand_to_n_queries=1)]

    return search, retriever


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--dataset", default="latest", show_default=True, help="latest, zenml:<version>, a file or folder.")
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--queries", "query_files", multiple=True, type=click.Path(exists=True, path_type=Path))
@click.option("--titles/--no-titles", default=True, show_default=True, help="Add the title -> article queries.")
@click.option("--search-mode", type=click.Choice(["hybrid", "dense"]), default=None, help="Default: RAG_SEARCH_MODE.")
@click.option("--support-weight", type=float, default=None, help="Document ranking weight (<0 turns it off).")
@click.option("--candidates", type=int, default=None, help="Dense and keyword candidates per query before fusion.")
@click.option("--k", default=10, show_default=True, help="Chunks retrieved per query.")
@click.option("--cutoff", default=5, show_default=True, help="Documents counted by recall, nDCG and precision.")
@click.option("--output", type=click.Path(path_type=Path), default=DEFAULT_OUTPUT, show_default=True)
def main(
    dataset: str,
    split: str,
    query_files: tuple[Path, ...],
    titles: bool,
    search_mode: str | None,
    support_weight: float | None,
    candidates: int | None,
    k: int,
    cutoff: int,
    output: Path,
) -> None:
    """Print retrieval metrics of the configured retriever on the labelled queries and write the report."""
    from llm_engineering.bootstrap import use_project_zenml_store
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported
    use_project_zenml_store()  # before ZenML reads its config: this checkout's store (LOCAL_DATA_DIR/zenml)

    from llm_engineering import bootstrap
    from llm_engineering.application.evaluation.labelled_queries import with_kept_copies
    from llm_engineering.application.evaluation.rag_evaluation import evaluate_retrieval
    from llm_engineering.application.preprocessing.feature_store import folded_copy_ids

    container = bootstrap.container()
    bootstrap.use_embedding_threads(container.settings, "query")  # queries are encoded one at a time
    queries = dataset_queries(dataset, split) if dataset != "none" else []
    for path in query_files:
        queries += hand_written_queries(container.documents(), path)
    if titles:
        queries += title_queries(container.documents())
    if not queries:
        raise click.ClickException("No labelled queries: give --dataset, --queries or --titles.")
    # A query labelled with a cross-posted copy's link is answered by the one copy the store keeps.
    queries = with_kept_copies(queries, folded_copy_ids(container.vector_index()))
    mode = search_mode or container.settings.RAG_SEARCH_MODE
    search, retriever = retriever_search(k, mode, support_weight, candidates)
    evaluation = evaluate_retrieval(search, queries, k=cutoff, mrr_k=10)
    settings = {
        "search_mode": retriever.search_mode,
        "hybrid_candidates": retriever.hybrid_candidates,
        "document_support_weight": retriever.document_support_weight,
        "reranker": retriever.reranker.name,
        "embedding_model_id": retriever.embedder.model_id,
        "chunks_per_query": k,
        "dataset": dataset,
        "split": split,
    }
    write_report(evaluation, settings, output)


def write_report(evaluation: Any, settings: dict[str, Any], output: Path) -> None:
    """Print the tables and write <output>.md and <output>.json."""
    from llm_engineering.model.evaluation.retrieval_report import RetrievalReport, render_retrieval_markdown

    report = RetrievalReport(
        title="RAG retrieval evaluation",
        settings=settings,
        overall=evaluation.overall,
        by_query_type=evaluation.by_query_type,
        by_category=evaluation.by_category,
        latency_p50_ms=evaluation.latency_ms["p50"],
        latency_p95_ms=evaluation.latency_ms["p95"],
        notes=[
            (
                f"recall, nDCG and context precision over the first {evaluation.k} retrieved documents, MRR over "
                f"the first {evaluation.mrr_k}; latency is retrieval only (embedding, search, fusion), no LLM."
            ),
        ],
    )
    markdown = render_retrieval_markdown(report)
    click.echo(markdown)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".md").write_text(markdown)
    misses = [
        {"query": r.query.query, "type": r.query.query_type, "hits": list(dict.fromkeys(r.hits))[:5]}
        for r in evaluation.misses()
    ]
    output.with_suffix(".json").write_text(json.dumps({**report.model_dump(mode="json"), "misses": misses}, indent=2))
    click.echo(f"Report: {output.with_suffix('.md')} ({len(misses)} queries missed every relevant document)")


if __name__ == "__main__":
    sys.exit(main())
