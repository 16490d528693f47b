"""Helpers for RAG integration and e2e tests: load the demo corpus into the bound stores, and run the API
in a real uvicorn process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import PROJECT_ROOT, free_port

DEMO_DIR = PROJECT_ROOT / "data" / "demo" / "articles"
DEMO_AUTHOR = "Mara Quillon"


def index_demo_corpus(embedder) -> int:  # type: ignore[no-untyped-def]
    """Load the demo articles into the bound warehouse and embed their paragraphs into the bound vector store.

    A paragraph-per-chunk index built here, independent of the feature pipeline, so retrieval tests
    exercise only retrieval. Returns the number of chunks.
    """
    from llm_engineering.domain.documents import ArticleDocument
    from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk
    from tools.quickstart import load_markdown_corpus

    load_markdown_corpus(DEMO_DIR, DEMO_AUTHOR)
    chunks: list[EmbeddedArticleChunk] = []
    for article in ArticleDocument.bulk_find(author_full_name=DEMO_AUTHOR):
        paragraphs = [p.strip() for p in article.content["Content"].split("\n\n") if p.strip()]
        vectors = embedder.embed(paragraphs)
        chunks += [
            EmbeddedArticleChunk(
                content=paragraph,
                embedding=vector,
                platform=article.platform,
                document_id=article.id,
                author_id=article.author_id,
                author_full_name=article.author_full_name,
                link=article.link,
                metadata={"title": article.content["Title"]},
            )
            for paragraph, vector in zip(paragraphs, vectors, strict=True)
        ]
    EmbeddedArticleChunk.bulk_insert(chunks)
    return len(chunks)


@contextmanager
def running_api(environment: dict[str, str], log_dir: Path) -> Iterator[str]:
    """`uvicorn tools.ml_service:app` on a free port with these settings; yields its base URL."""
    port = free_port()
    log_path = log_dir / f"api-{port}.log"
    env = {**os.environ, "ENV_FILE": str(PROJECT_ROOT / "tests" / "no.env"), **environment}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tools.ml_service:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"uvicorn did not answer:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
