"""Call the retrieval module directly (no REST, no answer generation) and print the chunks it finds.

python -m tools.rag --query "..." --k 3                  # retrieval only: never calls the LLM
python -m tools.rag --query "..." --with-llm-steps       # also self-query and query expansion (LLM calls)
python -m tools.rag --with-llm-steps --reprobe           # probe the model's capabilities again, refresh the cache
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
@click.option(
    "--with-llm-steps",
    is_flag=True,
    help="Also run self-query and query expansion (LLM calls, when the model can do them; RAG_SELF_QUERY, "
    "RAG_QUERY_EXPANSION). Without it nothing calls the LLM.",
)
@click.option("--expand-to-n-queries", type=int, default=3, show_default=True, help="With --with-llm-steps.")
@click.option(
    "--reprobe",
    is_flag=True,
    help="With --with-llm-steps: ignore the cached capability verdicts for this model (LOCAL_DATA_DIR/cache/"
    "capabilities.json), probe it again and cache the new ones (as RAG_REPROBE_CAPABILITIES=true).",
)
@click.option("--trace", "show_trace", is_flag=True, help="Also print the retrieval trace as JSON.")
def main(query: str, k: int, with_llm_steps: bool, expand_to_n_queries: int, reprobe: bool, show_trace: bool) -> None:
    """Retrieve the k most relevant chunks for a query and print them with sources and scores."""
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported

    from llm_engineering import bootstrap
    from llm_engineering.domain.exceptions import LLMTwinError
    from llm_engineering.settings import get_settings, load_settings

    try:
        bootstrap.use_embedding_threads(get_settings(), "query")  # one query: one thread encodes it
        if reprobe:
            bootstrap.configure(load_settings(RAG_REPROBE_CAPABILITIES=True))
        retriever = bootstrap.container().retriever(use_llm=with_llm_steps)
        n = expand_to_n_queries if with_llm_steps else 1
        result = retriever.search_with_trace(query, k=k, expand_to_n_queries=n)
    except LLMTwinError as error:
        raise click.ClickException(str(error)) from error
    finally:
        bootstrap.reset()
    trace = result.trace
    click.echo(f"Query: {query}")
    click.echo(
        f"Author filter: {trace['author_full_name'] or 'none'} (self-query: {trace['self_query'].get('status')}); "
        f"queries: {len(trace['queries'])} (expansion: {trace['query_expansion'].get('status')}); "
        f"search: {trace['paths']['search']}; reranker: {trace['reranker']}"
    )
    if not result.chunks:
        click.echo(
            "No chunks found: run the feature pipeline first (poetry run python -m tools.run "
            "--run-feature-engineering)."
        )
    for rank, item in enumerate(result.chunks, start=1):
        chunk = item.chunk
        click.echo(
            f"\n[{rank}] score={item.score:.4f}  {chunk.author_full_name}  {chunk.get_category().value}  "
            f"{getattr(chunk, 'link', None) or chunk.platform}"
        )
        click.echo("    " + chunk.content[:400].replace("\n", " ") + ("..." if len(chunk.content) > 400 else ""))
    sources = result.sources()
    if sources:
        click.echo(f"\n{len(result.chunks)} chunks from {len(sources)} documents:")
        for source in sources:
            click.echo(f"  {source.score:.4f}  {len(source.chunk_ids)} chunk(s)  {source.link or source.platform}")
    if show_trace:
        click.echo("\n" + json.dumps(trace, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
