"""RAG bench on the book's corpus (../shared/data/handbook): retrieval quality and latency.

    poetry run python -m bench.rag_latency [--rag-queries 8] [--max-new-tokens 32]

1. Stores: an nx-27017 warehouse and an embedded Qdrant folder under LOCAL_DATA_DIR/bench, filled once by
   importing the handbook backup and running the feature pipeline (ZenML); later runs reuse them.
2. Quality: for each of the 76 articles, its title is the query; recall@5 and MRR of the article among the
   documents of the top-5 retrieved chunks (no LLM steps, search mode and reranker as configured).
3. Retrieval-only latency: p50/p95 of `ContextRetriever.search` (embed, filtered search, fusion or rerank; no LLM).
4. Full /rag latency: p50/p95 of POST /rag through a real uvicorn process calling the configured LLM
   (LLM_BASE_URL; start the local one with `poetry run poe local-llm-up`), self-query and expansion included.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import click

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HANDBOOK_DIR = PROJECT_ROOT.parent / "shared" / "data" / "handbook"

QUERIES = [
    "How do I fine-tune Llama 3.1 efficiently on a single GPU?",
    "What is the difference between SFT and preference alignment with DPO?",
    "Explain how a feature pipeline feeds a RAG system.",
    "Why use a vector database such as Qdrant for retrieval?",
    "How does query expansion improve retrieval?",
    "What does a reranker add after vector search?",
    "How can I quantize an LLM to 4 bits with GPTQ or GGUF?",
    "What is the FTI architecture for ML systems?",
    "How do I monitor prompts of an LLM application in production?",
    "Write a LinkedIn post about merging LLMs with mergekit.",
    "How are graph neural networks used for recommendation?",
    "What is change data capture and why stream it into a feature store?",
    "How do I evaluate an LLM with an LLM judge?",
    "Which decoding strategies exist: greedy search, beam search, top-k, nucleus sampling?",
    "How do I deploy an LLM on AWS SageMaker?",
    "What are the tricks to make a streaming pipeline with Bytewax?",
    "How to build a real-time financial advisor with RAG?",
    "What is abliteration and how does it uncensor a model?",
    "How do I pre-train a small language model from scratch?",
    "What is ORPO and how does it compare with DPO?",
]


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in 0..1) of a non-empty list."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def _summary(label: str, seconds: list[float]) -> str:
    return (
        f"{label:<34} n={len(seconds):<3} p50={percentile(seconds, 0.5) * 1000:8.1f} ms   "
        f"p95={percentile(seconds, 0.95) * 1000:8.1f} ms   mean={statistics.mean(seconds) * 1000:8.1f} ms"
    )


def build_stores(bench_dir: Path, mongo_uri: str) -> tuple[int, int]:
    """Import the handbook and run the feature pipeline unless the bench stores already hold it."""
    from llm_engineering import bootstrap
    from llm_engineering.application.warehouse.backup import import_warehouse
    from llm_engineering.domain.documents import ArticleDocument, UserDocument
    from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk
    from llm_engineering.settings import load_settings

    settings = load_settings(DATABASE_HOST=mongo_uri, DATABASE_NAME="bench", QDRANT_LOCAL_PATH=bench_dir / "qdrant")
    container = bootstrap.configure(settings)
    documents, index = container.documents(), container.vector_index()
    import_warehouse(documents, HANDBOOK_DIR / "warehouse")
    articles = documents.count(ArticleDocument)
    if index.count(EmbeddedArticleChunk) == 0:
        from llm_engineering.bootstrap import use_project_zenml_store
        from pipelines.feature_engineering import feature_engineering

        use_project_zenml_store(settings)  # the run goes to this checkout's ZenML store
        authors = [user.full_name for user in documents.bulk_find(UserDocument)]
        click.echo(f"Running the feature pipeline for {authors} (first run only)...")
        feature_engineering.with_options(run_name=f"bench_feature_engineering_{int(time.time())}")(
            author_full_names=authors
        )
    return articles, index.count(EmbeddedArticleChunk)


def measure_quality_and_retrieval(queries: list[str]) -> dict:
    from llm_engineering import bootstrap
    from llm_engineering.domain.documents import ArticleDocument

    container = bootstrap.container()
    settings = container.settings
    retriever = container.retriever(use_llm=False)
    retriever.search("warm-up", k=3, expand_to_n_queries=1)

    hits, reciprocal_ranks = 0, []
    for article in container.documents().bulk_find(ArticleDocument):
        title = (article.content.get("Title") or "").strip()
        if not title:
            continue
        chunks = retriever.search(title, k=5, expand_to_n_queries=1)
        ranked_documents = list(dict.fromkeys(chunk.document_id for chunk in chunks))
        rank = ranked_documents.index(article.id) + 1 if article.id in ranked_documents else None
        hits += rank is not None
        reciprocal_ranks.append(1.0 / rank if rank else 0.0)

    latencies = []
    for query in queries:
        started = time.perf_counter()
        retriever.search(query, k=settings.RAG_TOP_K, expand_to_n_queries=1)
        latencies.append(time.perf_counter() - started)
    return {
        "lookups": len(reciprocal_ranks),
        "recall_at_5": hits / len(reciprocal_ranks),
        "mrr": statistics.mean(reciprocal_ranks),
        "retrieval_latencies": latencies,
        # Hybrid search orders chunks by fusion and skips the reranker; say which ordering was measured.
        "reranker": retriever.reranker.name if retriever.search_mode == "dense" else "fusion (dense + BM25, RRF)",
        "search_mode": retriever.search_mode,
    }


def measure_rag(bench_dir: Path, mongo_uri: str, queries: list[str], max_new_tokens: int, k: int) -> list[float]:
    import httpx

    from llm_engineering.infrastructure.local.api_server import running_api

    environment = {
        "DATABASE_HOST": mongo_uri,
        "DATABASE_NAME": "bench",
        "QDRANT_LOCAL_PATH": str(bench_dir / "qdrant"),
        "MAX_NEW_TOKENS_INFERENCE": str(max_new_tokens),
    }
    latencies: list[float] = []
    with running_api("tools.ml_service:app", bench_dir / "api.log", environment=environment) as base:
        ready = httpx.get(f"{base}/ready", timeout=60).json()
        if ready["status"] != "ready":
            raise click.ClickException(f"/ready: {ready['checks']} (start the LLM: poetry run poe local-llm-up)")
        httpx.post(f"{base}/rag", json={"query": "warm-up", "k": k, "max_new_tokens": 1}, timeout=600)
        for query in queries:
            started = time.perf_counter()
            response = httpx.post(f"{base}/rag", json={"query": query, "k": k}, timeout=600)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise click.ClickException(f"/rag answered {response.status_code}: {response.text[:300]}")
            generation = response.json()["metadata"]["generation"]
            click.echo(
                f"  /rag {latencies[-1]:6.1f}s  completion_tokens={generation['completion_tokens']}  {query[:60]}"
            )
    return latencies


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--rag-queries", default=8, show_default=True, help="Queries sent to /rag (0 skips the /rag part).")
@click.option("--max-new-tokens", default=32, show_default=True, help="Generation length for the /rag part.")
@click.option("--k", default=3, show_default=True, help="Passages per /rag prompt.")
def main(rag_queries: int, max_new_tokens: int, k: int) -> None:
    """Print recall@5, MRR, retrieval-only and full /rag latency percentiles on the handbook corpus."""
    if not (HANDBOOK_DIR / "warehouse").is_dir():
        raise click.ClickException(f"the book's corpus is not beside the project ({HANDBOOK_DIR} is absent)")
    from llm_engineering import bootstrap
    from llm_engineering.infrastructure.local.warehouse import embedded_warehouse
    from llm_engineering.settings import get_settings

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    threads = bootstrap.use_embedding_threads(get_settings(), "query")  # as the API and tools.rag do
    bench_dir = (get_settings().LOCAL_DATA_DIR / "bench").resolve()
    with embedded_warehouse(bench_dir / "warehouse") as mongo_uri:
        try:
            started = time.perf_counter()
            articles, chunks = build_stores(bench_dir, mongo_uri)
            click.echo(f"Stores ready in {time.perf_counter() - started:.0f}s: {articles} articles, {chunks} chunks")
            quality = measure_quality_and_retrieval(QUERIES)
            bootstrap.reset()  # the API process opens the Qdrant folder next
            rag = measure_rag(bench_dir, mongo_uri, QUERIES[:rag_queries], max_new_tokens, k) if rag_queries else []
        finally:
            bootstrap.reset()

    settings = get_settings()
    click.echo("\n=== RAG bench (handbook corpus) ===")
    click.echo(
        f"corpus: {articles} articles -> {chunks} embedded chunks; search: {quality['search_mode']}, order: {quality['reranker']}"
    )
    click.echo(
        f"title -> article lookups: n={quality['lookups']}  recall@5={quality['recall_at_5']:.3f}  "
        f"MRR={quality['mrr']:.3f}"
    )
    click.echo(_summary(f"retrieval only (k={settings.RAG_TOP_K}, no LLM)", quality["retrieval_latencies"]))
    click.echo(f"query embedding on the main thread with {threads} torch thread(s) (EMBEDDING_THREADS)")
    if rag:
        click.echo(_summary(f"POST /rag (k={k}, {max_new_tokens} new tokens)", rag))
        click.echo(f"LLM: {bootstrap.served_model(settings).model_id} at {settings.LLM_BASE_URL}")


if __name__ == "__main__":
    sys.exit(main())
