"""The RAG business service, for uvicorn, and a small client to call it.

uvicorn tools.ml_service:app --host 127.0.0.1 --port 8000
python -m tools.ml_service --query "..."          # POST /rag and print the answer and its sources
"""

from __future__ import annotations

import json
import sys

import click

from llm_engineering.entrypoints.api import create_app
from pipelines.catalogue import CATALOGUE

# Creating the app reads the settings but opens nothing: a background warm-up loads the models after start,
# and GET /ready answers 503 "warming_up" until it has (the first question then loads nothing). The web UI's
# crawl jobs run the pipelines of the project's catalogue (imported only when a job runs).
app = create_app(pipelines=CATALOGUE)

DEFAULT_QUERY = "Write a short LinkedIn post about why a RAG system needs a reranking step."


def print_answer(payload: dict) -> None:
    """Pretty-print a /rag response: the answer, one line per source document, the retrieval paths."""
    click.echo("\nAnswer:\n" + (payload.get("answer") or "(empty)").strip())
    click.echo("\nSources:")
    for source in payload.get("sources", []):
        # The number the answer cites this source by ([n]), as the API gives it.
        number = source.get("number", "-")
        click.echo(
            f"  [{number}] score={source['score']:.3f}  {source['author']}  {source['category']}  "
            f"{source.get('link') or source['platform']}  ({len(source.get('chunk_ids', []))} chunks)"
        )
    metadata = payload.get("metadata", {})
    paths = metadata.get("retrieval", {}).get("paths", {})
    if paths:
        click.echo("\nRetrieval paths:")
        for name, outcome in paths.items():
            click.echo(f"  {name:<16} {outcome}")
    generation = metadata.get("generation", {})
    if generation.get("cleanup"):
        click.echo("Answer tidied: " + "; ".join(generation["cleanup"]))
    if generation.get("answer_source") == "extractive":
        click.echo(
            "Answer source: extractive, the author's own sentences from the passages (the model's reply failed "
            f"the answer guard: {generation.get('guard')})"
        )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--query", default=DEFAULT_QUERY, show_default=True)
@click.option("--url", default=None, help="Service URL (default http://API_HOST:API_PORT).")
@click.option("--k", type=int, default=None, help="Passages in the prompt.")
@click.option("--timeout", default=600.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON response.")
def main(query: str, url: str | None, k: int | None, timeout: float, as_json: bool) -> None:
    """POST one query to the running service's /rag and print the answer with its sources."""
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported

    import httpx

    from llm_engineering.settings import get_settings

    settings = get_settings()
    base = url or f"http://{settings.API_HOST}:{settings.API_PORT}"
    body: dict = {"query": query}
    if k is not None:
        body["k"] = k
    try:
        response = httpx.post(f"{base}/rag", json=body, timeout=timeout)
    except httpx.HTTPError as error:
        raise click.ClickException(
            f"cannot reach {base}: {error}. Start it with `poetry run poe run-inference-ml-service`."
        ) from error
    if response.status_code != 200:
        raise click.ClickException(f"{base}/rag answered {response.status_code}: {response.text[:500]}")
    if as_json:
        click.echo(json.dumps(response.json(), indent=2))
    else:
        click.echo(f"Question: {query}")
        print_answer(response.json())


if __name__ == "__main__":
    sys.exit(main())
