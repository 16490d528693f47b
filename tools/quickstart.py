"""The main job on embedded defaults, offline: warehouse -> local LLM -> demo corpus -> feature pipeline ->
RAG API -> one question over REST, printed with its sources.

    poetry run poe quickstart
    poetry run python -m tools.quickstart --corpus-dir my/notes --author "Jane Doe" --query "..."

Order matters with embedded Qdrant (one process per folder): the feature pipeline runs in this process
and releases the store before the API process opens it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from llm_engineering.application.operations.quickstart_estimates import Machine, estimate_note

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_CORPUS = PROJECT_ROOT / "data" / "demo" / "articles"
DEMO_AUTHOR = "Mara Quillon"
DEMO_QUERY = "I am Mara Quillon. Write a short LinkedIn post on why a RAG system should rerank before it prompts."
# The app the API process serves (uvicorn import string).
API_APP = "tools.ml_service:app"


def _step(number: int, title: str, estimate: str | None = None) -> float:
    """Print the step's header and, for a step in `quickstart_estimates.STEPS`, how long it should take."""
    click.secho(f"\n[{number}/6] {title}", bold=True)
    if estimate is not None:
        click.echo(f"      {estimate_note(estimate, Machine.current())}")
    return time.perf_counter()


def _done(started: float, message: str = "") -> None:
    click.echo(f"      done in {time.perf_counter() - started:.1f}s {message}".rstrip())


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--corpus-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=DEMO_CORPUS,
    show_default="data/demo/articles",
    help="Folder of Markdown articles with front matter.",
)
@click.option("--author", default=DEMO_AUTHOR, show_default=True, help="Full name of the corpus' author.")
@click.option("--query", default=DEMO_QUERY, show_default=True, help="The question asked over REST.")
@click.option("--k", default=3, show_default=True, help="Passages put in the prompt (fewer = faster on a CPU).")
@click.option("--keep-api", is_flag=True, help="Leave the API running (it then holds the embedded Qdrant folder).")
def main(corpus_dir: Path, author: str, query: str, k: int, keep_api: bool) -> None:
    """Run the whole system once on this machine, offline, and answer one question through the REST API."""
    from llm_engineering.bootstrap import use_project_zenml_store
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported
    use_project_zenml_store()  # before ZenML reads its config: this checkout's store (LOCAL_DATA_DIR/zenml)

    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise in this summary

    from llm_engineering import bootstrap
    from llm_engineering.application.warehouse.markdown_import import import_markdown_corpus
    from llm_engineering.domain.exceptions import InvalidDocumentError, LLMTwinError
    from llm_engineering.infrastructure.local.api_server import start_api
    from llm_engineering.infrastructure.local.processes import stop_process
    from llm_engineering.settings import get_settings
    from tools.ml_service import print_answer

    settings = get_settings()
    total = time.perf_counter()

    started = _step(1, "Local infrastructure: the MongoDB-compatible warehouse", "warehouse")
    click.echo(
        "      " + bootstrap.build_local_infrastructure(settings, PROJECT_ROOT).start_warehouse(prefer_docker=False)
    )
    _done(started)

    server = None
    if bootstrap.uses_local_llm(settings):
        try:  # the served model: LLM_MODEL_ID, a chosen or production twin, else the packaged base model
            server = bootstrap.build_local_llm_server(settings, bootstrap.model_to_serve_locally(settings).model_id)
        except LLMTwinError as error:
            raise click.ClickException(str(error)) from error
    started = _step(
        2,
        "Local LLM: Gemma 3 270M (the packaged GGUF), OpenAI-compatible server",
        f"local_llm_{server.engine}" if server is not None else None,
    )
    if server is not None:
        try:
            if server.notice:
                click.echo(f"      note: {server.notice}")
            server.prepare()
            click.echo("      " + server.start(timeout_s=600))
        except LLMTwinError as error:
            raise click.ClickException(str(error)) from error
    else:
        click.echo(f"      using the configured LLM at {settings.LLM_BASE_URL} ({settings.LLM_PROVIDER})")
    _done(started)

    started = _step(3, f"Demo corpus: {corpus_dir} by {author} -> warehouse", "corpus")
    container = bootstrap.configure(settings)
    try:
        imported = import_markdown_corpus(container.documents(), corpus_dir, author)
    except (InvalidDocumentError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from error
    _done(started, f"({imported.inserted} articles inserted, {imported.skipped_existing} already there)")

    started = _step(4, "Feature pipeline (ZenML): clean, chunk, embed -> Qdrant", "feature_pipeline")
    from llm_engineering.bootstrap import owned_run
    from pipelines.feature_engineering import feature_engineering

    run_name = f"quickstart_feature_engineering_{int(time.time())}"
    with owned_run(run_name):
        feature_engineering.with_options(run_name=run_name)(author_full_names=[author])
    from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk

    chunks = bootstrap.container().vector_index().count(EmbeddedArticleChunk)
    bootstrap.reset()  # hand the embedded Qdrant folder over to the API process
    _done(started, f"({chunks} embedded article chunks in the store)")

    started = _step(5, f"RAG API: uvicorn {API_APP} on {settings.API_HOST}:{settings.API_PORT}", "api")
    log_path = settings.LOCAL_DATA_DIR / "run" / "ml_service.log"
    try:
        api, base = start_api(
            API_APP,
            log_path,
            host=settings.API_HOST,
            port=settings.API_PORT,
            log_level="warning",
            detach=keep_api,  # its own session, so it outlives this command
        )
    except RuntimeError as error:
        raise click.ClickException(f"{error}\n(full log: {log_path})") from error
    try:
        ready = httpx.get(f"{base}/ready", timeout=60).json()
        click.echo(
            f"      /ready: {ready['status']} "
            + ", ".join(f"{k}={'ok' if v['ok'] else v['detail']}" for k, v in ready["checks"].items())
        )
        _done(started)

        # The estimate holds for the local LLM; another server answers at its own pace.
        started = _step(6, "POST /rag", "rag" if server is not None else None)
        click.echo(f"Question: {query}")
        response = httpx.post(f"{base}/rag", json={"query": query, "k": k}, timeout=settings.API_REQUEST_TIMEOUT_S + 30)
        if response.status_code != 200:
            raise click.ClickException(f"/rag answered {response.status_code}: {response.text[:500]}")
        print_answer(response.json())
        _done(started)
    finally:
        if not keep_api:
            stop_process(api, timeout_s=20)
    click.secho(f"\nQuickstart finished in {time.perf_counter() - total:.0f}s.", bold=True)
    if keep_api:
        click.echo(
            f"The API is still running at {base} (pid {api.pid}): open {base}/ in a browser to chat with the "
            f"twin, or poetry run poe call-inference-ml-service; stop it with `kill {api.pid}`."
        )
    else:
        click.echo(
            "To chat in the browser: poetry run poe run-inference-ml-service, then open "
            f"http://{settings.API_HOST}:{settings.API_PORT}/ (or rerun the quickstart with --keep-api)."
        )
    click.echo(
        "Still running: the local LLM and the warehouse. Stop them with\n"
        "  poetry run poe local-llm-down && poetry run poe local-infrastructure-down"
    )


if __name__ == "__main__":
    sys.exit(main())
