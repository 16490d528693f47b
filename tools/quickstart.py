"""The main job on embedded defaults, offline: warehouse -> local LLM -> demo corpus -> feature pipeline ->
RAG API -> one question over REST, printed with its sources.

    poetry run poe quickstart
    poetry run python -m tools.quickstart --corpus-dir my/notes --author "Jane Doe" --query "..."

Order matters with embedded Qdrant (one process per folder): the feature pipeline runs in this process
and releases the store before the API process opens it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import click

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_CORPUS = PROJECT_ROOT / "data" / "demo" / "articles"
DEMO_AUTHOR = "Mara Quillon"
DEMO_QUERY = "I am Mara Quillon. Write a short LinkedIn post on why a RAG system should rerank before it prompts."
_FRONT_MATTER = re.compile(r"^---\n(.*?)\n---\n(.*)$", re.DOTALL)


def read_markdown_article(path: Path) -> dict[str, str]:
    """A Markdown file with `title`/`link`/`platform` front matter -> its fields and body."""
    text = path.read_text(encoding="utf-8")
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise click.ClickException(f"{path}: missing the '---' front matter block (title, link, platform)")
    fields = {}
    for line in match.group(1).splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
    fields["body"] = match.group(2).strip()
    for required in ("title", "link"):
        if not fields.get(required):
            raise click.ClickException(f"{path}: front matter needs '{required}'")
    fields.setdefault("platform", re.sub(r"^https?://([^/]+).*$", r"\1", fields["link"]))
    return fields


def load_markdown_corpus(folder: Path, author_full_name: str) -> tuple[int, int]:
    """Insert every `*.md` of `folder` as an article of `author_full_name` (idempotent); (inserted, skipped)."""
    from llm_engineering.domain.documents import ArticleDocument, UserDocument
    from llm_engineering.domain.names import split_user_full_name

    files = sorted(folder.glob("*.md"))
    if not files:
        raise click.ClickException(f"no Markdown files in {folder}")
    first_name, last_name = split_user_full_name(author_full_name)
    user = UserDocument.get_or_create(first_name=first_name, last_name=last_name)  # the write path may create
    articles = []
    for path in files:
        fields = read_markdown_article(path)
        articles.append(
            ArticleDocument(
                # Ids derive from the link (a UUID4-shaped hash), so a second load inserts nothing.
                id=uuid.UUID(bytes=uuid.uuid5(uuid.NAMESPACE_URL, fields["link"]).bytes, version=4),
                content={"Title": fields["title"], "Subtitle": None, "Content": fields["body"]},
                platform=fields["platform"],
                link=fields["link"],
                author_id=user.id,
                author_full_name=user.full_name,
            )
        )
    report = ArticleDocument.bulk_insert(articles)
    return len(report.inserted), len(report.skipped_existing)


def _step(number: int, title: str) -> float:
    click.secho(f"\n[{number}/6] {title}", bold=True)
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
    import httpx

    from llm_engineering import bootstrap
    from llm_engineering.infrastructure.api_process import api_command, wait_http_ok
    from llm_engineering.infrastructure.local_llm import LocalLLMServer, convert_gguf_model, local_model_dir
    from llm_engineering.infrastructure.local_services import LocalInfrastructure
    from llm_engineering.settings import get_settings
    from tools.ml_service import print_answer

    settings = get_settings()
    total = time.perf_counter()

    started = _step(1, "Local infrastructure: the MongoDB-compatible warehouse")
    click.echo("      " + LocalInfrastructure(settings, project_root=PROJECT_ROOT).start_warehouse(prefer_docker=False))
    _done(started)

    started = _step(2, "Local LLM: Gemma 3 270M (converted once from the packaged GGUF), OpenAI-compatible server")
    if settings.LLM_PROVIDER == "openai" and settings.LLM_BASE_URL.startswith(
        (f"http://127.0.0.1:{settings.LOCAL_LLM_PORT}", f"http://localhost:{settings.LOCAL_LLM_PORT}")
    ):
        model_dir = local_model_dir(settings.LOCAL_DATA_DIR / "models", settings.LLM_MODEL_ID)
        convert_gguf_model(model_dir)
        server = LocalLLMServer(model_dir, port=settings.LOCAL_LLM_PORT, run_dir=settings.LOCAL_DATA_DIR / "run")
        click.echo("      " + server.start(timeout_s=600))
    else:
        click.echo(f"      using the configured LLM at {settings.LLM_BASE_URL} ({settings.LLM_PROVIDER})")
    _done(started)

    started = _step(3, f"Demo corpus: {corpus_dir} by {author} -> warehouse")
    bootstrap.configure(settings)
    inserted, skipped = load_markdown_corpus(corpus_dir, author)
    _done(started, f"({inserted} articles inserted, {skipped} already there)")

    started = _step(4, "Feature pipeline (ZenML): clean, chunk, embed -> Qdrant")
    from pipelines.feature_engineering import feature_engineering

    feature_engineering.with_options(run_name=f"quickstart_feature_engineering_{int(time.time())}")(
        author_full_names=[author]
    )
    from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk

    chunks = EmbeddedArticleChunk.count()
    bootstrap.reset()  # hand the embedded Qdrant folder over to the API process
    _done(started, f"({chunks} embedded article chunks in the store)")

    started = _step(5, f"RAG API: uvicorn tools.ml_service:app on {settings.API_HOST}:{settings.API_PORT}")
    base = f"http://{settings.API_HOST}:{settings.API_PORT}"
    log_path = settings.LOCAL_DATA_DIR / "run" / "ml_service.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        api = subprocess.Popen(
            [*api_command(settings.API_HOST, settings.API_PORT), "--log-level", "warning"],
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ},
            start_new_session=keep_api,
        )
    try:
        if not wait_http_ok(f"{base}/health", 120, api):
            raise click.ClickException(f"the API did not start; see {log_path}")
        ready = httpx.get(f"{base}/ready", timeout=60).json()
        click.echo(
            f"      /ready: {ready['status']} "
            + ", ".join(f"{k}={'ok' if v['ok'] else v['detail']}" for k, v in ready["checks"].items())
        )
        _done(started)

        started = _step(6, "POST /rag")
        click.echo(f"Question: {query}")
        response = httpx.post(f"{base}/rag", json={"query": query, "k": k}, timeout=settings.API_REQUEST_TIMEOUT_S + 30)
        if response.status_code != 200:
            raise click.ClickException(f"/rag answered {response.status_code}: {response.text[:500]}")
        print_answer(response.json())
        _done(started)
    finally:
        if not keep_api:
            api.terminate()
            try:
                api.wait(timeout=20)
            except subprocess.TimeoutExpired:
                api.kill()
    click.secho(f"\nQuickstart finished in {time.perf_counter() - total:.0f}s.", bold=True)
    if keep_api:
        click.echo(
            f"The API is still running at {base} (pid {api.pid}): poetry run poe call-inference-ml-service; "
            f"stop it with `kill {api.pid}`."
        )
    click.echo(
        "Still running: the local LLM and the warehouse. Stop them with\n"
        "  poetry run poe local-llm-down && poetry run poe local-infrastructure-down"
    )


if __name__ == "__main__":
    sys.exit(main())
