"""Call the retrieval module directly (no REST, no answer generation) and print the chunks it finds.

python -m tools.rag --query "..." --k 3 --expand-to-n-queries 3
"""

from __future__ import annotations

import json
import sys

import click

DEFAULT_QUERY = (
    "My name is Paul Iusztin. Could you draft a LinkedIn post discussing RAG systems? "
    "I'm particularly interested in how RAG works and how it is integrated with vector DBs and LLMs."
)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--query", default=DEFAULT_QUERY, show_default=True)
@click.option("--k", type=int, default=3, show_default=True)
@click.option("--expand-to-n-queries", type=int, default=3, show_default=True)
@click.option("--no-llm", is_flag=True, help="Skip self-query and query expansion (no LLM calls).")
@click.option("--trace", "show_trace", is_flag=True, help="Also print the retrieval trace as JSON.")
def main(query: str, k: int, expand_to_n_queries: int, no_llm: bool, show_trace: bool) -> None:
    """Retrieve the k most relevant chunks for a query and print them with sources and scores."""
    from llm_engineering import bootstrap
    from llm_engineering.domain.exceptions import LLMTwinError

    try:
        retriever = bootstrap.container().retriever(use_llm=not no_llm)
        result = retriever.search_with_trace(query, k=k, expand_to_n_queries=expand_to_n_queries)
    except LLMTwinError as error:
        raise click.ClickException(str(error)) from error
    finally:
        bootstrap.reset()
    trace = result.trace
    click.echo(f"Query: {query}")
    click.echo(
        f"Author filter: {trace['author_full_name'] or 'none'} (self-query: {trace['self_query'].get('status')}); "
        f"queries: {len(trace['queries'])} (expansion: {trace['query_expansion'].get('status')}); "
        f"reranker: {trace['reranker']}"
    )
    if not result.chunks:
        click.echo(
            "No chunks found: run the feature pipeline first (poetry run python -m tools.run "
            "--run-feature-engineering)."
        )
    for rank, item in enumerate(result.chunks, start=1):
        source = item.source
        click.echo(
            f"\n[{rank}] score={item.score:.4f}  {source.author}  {source.category}  "
            f"{source.link or source.platform}"
        )
        click.echo(
            "    " + item.chunk.content[:400].replace("\n", " ") + ("..." if len(item.chunk.content) > 400 else "")
        )
    if show_trace:
        click.echo("\n" + json.dumps(trace, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
