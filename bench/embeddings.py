"""Embedding backends on the handbook corpus: what EMBEDDING_BACKEND=auto picks, and that retrieval is unchanged.

For torch fp32 (the reference), torch-bf16 (autocast) and openvino it prints:
- load time per process: a fresh interpreter builds the embedder from settings and encodes one text
  (imports included); openvino once cold (an empty export cache: the export) and once cached;
- chunks/s encoding the handbook's chunks, made the project's way (the warehouse backup in
  ../shared/data/handbook cleaned and chunked by the feature pipeline's handlers), with every core;
- query latency p50/p95: one query per call, with the threads a query process gets (threads.py);
- min / mean cosine of each backend's vectors to torch fp32's, over chunks and queries;
- recall@5 and MRR@10 of dense retrieval over those chunks (documents ranked by their best chunk) for the
  held-out queries (tests/fixtures/rag_queries/handbook_test.yaml) and the 76 title -> article lookups.

Backends are interleaved round by round and query by query, so other load on the machine falls on all
alike; throughput is the best round. Exports go to a temporary folder (nothing is written to .local).

With --hybrid it also builds the feature store per backend (torch, openvino) and scores the project's own
retriever (hybrid dense + BM25, as `poe run-rag-evaluation`) on the same queries.

    poetry run python -m bench.embeddings [--rounds 2] [--chunks 0] [--skip-load] [--hybrid]
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from bench.rag_latency import percentile

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HANDBOOK_WAREHOUSE = PROJECT_ROOT.parent / "shared" / "data" / "handbook" / "warehouse"
HELD_OUT_QUERIES = PROJECT_ROOT / "tests" / "fixtures" / "rag_queries" / "handbook_test.yaml"
BACKENDS = ("torch", "torch-bf16", "openvino")

LOAD_PROBE = """
import json, sys, time
started = time.perf_counter()
from llm_engineering import bootstrap
from llm_engineering.settings import load_settings
settings = load_settings(EMBEDDING_BACKEND=sys.argv[1], EMBEDDING_CACHE_DIR=sys.argv[2])
embedder = bootstrap.build_embedder(settings)
embedder.embed(["warm-up"])
print(json.dumps({"seconds": time.perf_counter() - started, "backend": embedder.active_backend,
                  "torch_imported": "torch" in sys.modules}))
"""


def load_time(backend: str, cache_dir: Path) -> dict[str, Any]:
    """Seconds a fresh process takes to import the project, build `backend`'s embedder and encode one text."""
    result = subprocess.run(
        [sys.executable, "-c", LOAD_PROBE, backend, str(cache_dir)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        raise click.ClickException(f"loading {backend} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def handbook_chunks(embedder: Any) -> tuple[list[str], list[str], dict[str, str], dict[str, set[str]]]:
    """The texts the feature pipeline embeds for the handbook backup, the document id of each, and the
    documents' ids by link and by title (two articles may share one)."""
    from llm_engineering.application.preprocessing.chunking_data_handlers import text_to_embed
    from llm_engineering.application.preprocessing.dispatchers import ChunkingDispatcher
    from llm_engineering.application.preprocessing.feature_engineering import clean_documents
    from llm_engineering.application.warehouse.backup import load_backup
    from llm_engineering.domain.documents import Document

    backup, _ = load_backup(HANDBOOK_WAREHOUSE)
    documents = [doc for cls, docs in backup.items() if issubclass(cls, Document) for doc in docs]
    by_link = {str(doc.link): str(doc.id) for doc in documents if getattr(doc, "link", None)}
    by_title: dict[str, set[str]] = {}
    for doc in documents:
        if doc.content.get("Title"):
            by_title.setdefault(str(doc.content["Title"]).strip(), set()).add(str(doc.id))
    chunker = ChunkingDispatcher(embedder)
    texts, owners = [], []
    for cleaned in clean_documents(documents).documents:
        for chunk in chunker.dispatch(cleaned):
            texts.append(text_to_embed(chunk))
            owners.append(str(chunk.document_id))
    return texts, owners, by_link, by_title


def query_sets(by_link: dict[str, str], by_title: dict[str, set[str]]) -> dict[str, list[tuple[str, set[str]]]]:
    """Held-out hand-written queries (links resolved to document ids) and title -> article lookups."""
    import yaml

    held_out = []
    for case in yaml.safe_load(HELD_OUT_QUERIES.read_text(encoding="utf-8")):
        relevant = {by_link[link] for link in case["links"] if link in by_link}
        if relevant:
            held_out.append((" ".join(case["query"].split()), relevant))
    titles = list(by_title.items())
    return {"held-out": held_out, "titles": titles}


def retrieval_figures(
    chunk_vectors: Any, owners: list[str], query_vectors: Any, queries: list[tuple[str, set[str]]]
) -> tuple[float, float, list[list[str]]]:
    """recall@5 and MRR@10 of dense retrieval (documents ranked by their best chunk), and each ranking."""
    import numpy as np

    from llm_engineering.application.evaluation.retrieval_metrics import recall_at_k, reciprocal_rank, unique_ranking

    scores = query_vectors @ chunk_vectors.T
    recalls, reciprocal_ranks, rankings = [], [], []
    for row, (_, relevant) in zip(scores, queries, strict=True):
        ranking = unique_ranking(owners[index] for index in np.argsort(-row, kind="stable"))
        rankings.append(ranking[:10])
        recalls.append(recall_at_k(ranking, relevant, 5))
        reciprocal_ranks.append(reciprocal_rank(ranking, relevant, 10))
    return statistics.mean(recalls), statistics.mean(reciprocal_ranks), rankings


def hybrid_retrieval(backends: tuple[str, ...], cache_dir: Path) -> dict[str, dict[str, dict[str, float]]]:
    """The project's retrieval (hybrid: dense + BM25, fused) evaluated as `poe run-rag-evaluation` does, once
    per backend: the handbook imported into a throwaway nx-27017, the feature pipeline's application code
    run into a temporary Qdrant folder with that backend, then the held-out queries and titles scored."""
    from llm_engineering import bootstrap
    from llm_engineering.application.evaluation.rag_evaluation import evaluate_retrieval
    from llm_engineering.application.preprocessing.feature_engineering import (
        chunk_documents,
        clean_documents,
        embed_chunks,
        query_warehouse,
    )
    from llm_engineering.application.preprocessing.feature_store import load_documents
    from llm_engineering.application.warehouse.backup import import_warehouse
    from llm_engineering.infrastructure.local.warehouse import embedded_warehouse
    from llm_engineering.settings import load_settings
    from tools.rag_evaluation import hand_written_queries, retriever_search, title_queries

    results: dict[str, dict[str, dict[str, float]]] = {}
    with embedded_warehouse() as uri, tempfile.TemporaryDirectory(prefix="bench-embeddings-qdrant-") as folder:
        for backend in backends:
            settings = load_settings(
                DATABASE_HOST=uri,
                DATABASE_NAME=f"bench_{backend.replace('-', '_')}",
                QDRANT_LOCAL_PATH=Path(folder) / backend,
                EMBEDDING_BACKEND=backend,
                EMBEDDING_CACHE_DIR=cache_dir,
                RAG_SEARCH_MODE="hybrid",
            )
            container = bootstrap.configure(settings)
            try:
                import_warehouse(container.documents(), HANDBOOK_WAREHOUSE)
                embedder = container.embedder()
                cleaned = clean_documents(query_warehouse(container.documents()).documents).documents
                chunks, _ = chunk_documents(None, cleaned, embedder, incremental=False)
                embedded, _ = embed_chunks(chunks, embedder)
                load_documents(container.vector_index(), cleaned)
                load_documents(container.vector_index(), embedded)
                queries = hand_written_queries(HELD_OUT_QUERIES) + title_queries()
                search, _ = retriever_search(10, "hybrid", None, None)
                evaluation = evaluate_retrieval(search, queries, k=5, mrr_k=10)
                results[backend] = {"all": evaluation.overall, **evaluation.by_query_type}
            finally:
                bootstrap.reset()
    return results


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--rounds", default=2, show_default=True, help="Passes over the chunks and queries per backend.")
@click.option(
    "--chunks",
    default=0,
    show_default=True,
    help="Encode only the first N chunks (0: all; retrieval then sees only those).",
)
@click.option("--batch-size", default=0, help="Encoding batch size (0: EMBEDDING_BATCH_SIZE).")
@click.option("--skip-load", is_flag=True, help="Skip the per-process load times (three fresh processes).")
@click.option(
    "--hybrid",
    is_flag=True,
    help="Also run the feature pipeline and the hybrid retriever per backend (torch, openvino).",
)
def main(rounds: int, chunks: int, batch_size: int, skip_load: bool, hybrid: bool) -> None:
    """Print load time, chunks/s, query latency, cosine to torch fp32 and retrieval figures per backend."""
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    from loguru import logger

    from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder
    from llm_engineering.infrastructure.openvino_embeddings import OpenVINOEmbedder
    from llm_engineering.infrastructure.threads import embedding_threads
    from llm_engineering.settings import get_settings

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    settings = get_settings()
    batch = batch_size or settings.EMBEDDING_BATCH_SIZE
    batch_threads = embedding_threads("batch", settings.EMBEDDING_THREADS)
    query_threads = embedding_threads("query", settings.EMBEDDING_THREADS)
    model_id = settings.TEXT_EMBEDDING_MODEL_ID
    cache_dir = Path(tempfile.mkdtemp(prefix="bench-embeddings-"))
    atexit.register(shutil.rmtree, cache_dir, True)  # the exports (90 MB each) go with the bench

    loads: dict[str, str] = {}
    if not skip_load:
        click.echo("Load time per process (fresh interpreters; openvino cold = exporting into an empty cache)...")
        for label, backend in (("torch", "torch"), ("openvino (cold)", "openvino"), ("openvino (cached)", "openvino")):
            figures = load_time(backend, cache_dir)
            loads[label] = f"{figures['seconds']:6.1f} s (torch imported: {figures['torch_imported']})"
            click.echo(f"  {label:<18} {loads[label]}")
        loads["torch-bf16"] = loads["torch"] + ", the same model"

    started = time.perf_counter()
    batch_ov = OpenVINOEmbedder(model_id, cache_dir=cache_dir, batch_size=batch, threads=batch_threads)
    query_ov = OpenVINOEmbedder(model_id, cache_dir=cache_dir, threads=query_threads)
    batch_ov.embed(["warm-up"])
    query_ov.embed(["warm-up"])
    in_process_ov = time.perf_counter() - started
    started = time.perf_counter()
    reference = SentenceTransformerEmbedder(model_id, batch_size=batch)
    reference.embed(["warm-up"])
    in_process_torch = time.perf_counter() - started
    cold = ", the export included" if skip_load else ""  # without the load probes the cache starts empty
    click.echo(
        f"In this process: openvino (two compiled models{cold}) {in_process_ov:.1f} s, "
        f"torch {in_process_torch:.1f} s (imports shared with what ran before)"
    )

    texts, owners, by_link, by_title = handbook_chunks(batch_ov)
    if chunks:
        texts, owners = texts[:chunks], owners[:chunks]
    sets = query_sets(by_link, by_title)
    click.echo(
        f"Corpus: {len(set(owners))} documents -> {len(texts)} chunks; queries: "
        + ", ".join(f"{name} {len(queries)}" for name, queries in sets.items())
        + f"; batch {batch}, threads: batch {batch_threads}, query {query_threads}"
    )

    def torch_encoder(bf16: bool) -> Callable[[list[str], int], Any]:
        def encode(items: list[str], size: int) -> Any:
            reference.bf16 = bf16
            try:
                return reference.embed_array(items, batch_size=size)
            finally:
                reference.bf16 = False

        return encode

    batch_encoders: dict[str, Callable[[list[str], int], Any]] = {
        "torch": torch_encoder(False),
        "torch-bf16": torch_encoder(True),
        "openvino": lambda items, size: batch_ov.embed_array(items, batch_size=size),
    }
    query_encoders = {**batch_encoders, "openvino": lambda items, size: query_ov.embed_array(items, batch_size=size)}

    seconds: dict[str, list[float]] = {name: [] for name in BACKENDS}
    chunk_vectors: dict[str, Any] = {}
    with torch_threads(batch_threads):
        for number in range(rounds):
            for name in BACKENDS:
                started = time.perf_counter()
                chunk_vectors[name] = batch_encoders[name](texts, batch)
                seconds[name].append(time.perf_counter() - started)
            click.echo(
                f"  round {number + 1}: "
                + ", ".join(f"{name} {len(texts) / seconds[name][-1]:.1f} chunks/s" for name in BACKENDS)
            )

    latencies: dict[str, list[float]] = {name: [] for name in BACKENDS}
    query_vectors: dict[str, dict[str, list[Any]]] = {name: {set_name: [] for set_name in sets} for name in BACKENDS}
    with torch_threads(query_threads):
        for name in BACKENDS:
            query_encoders[name](["warm-up"], 1)
        for number in range(rounds):
            for set_name, queries in sets.items():
                for query, _ in queries:
                    for name in BACKENDS:
                        started = time.perf_counter()
                        vector = query_encoders[name]([query], 1)[0]
                        latencies[name].append(time.perf_counter() - started)
                        if number == 0:
                            query_vectors[name][set_name].append(vector)

    def cosine(name: str) -> tuple[float, float]:
        ours = np.concatenate([chunk_vectors[name], *(np.stack(v) for v in query_vectors[name].values())])
        base = np.concatenate([chunk_vectors["torch"], *(np.stack(v) for v in query_vectors["torch"].values())])
        values = (ours * base).sum(axis=1)
        return float(values.min()), float(values.mean())

    click.echo("\n=== Embedding backends (handbook corpus) ===")
    base_rate = len(texts) / min(seconds["torch"])
    rankings: dict[str, dict[str, list[list[str]]]] = {}
    for name in BACKENDS:
        rate = len(texts) / min(seconds[name])
        low, mean = cosine(name)
        click.echo(f"{name}:")
        if name == "openvino" and "openvino (cold)" in loads:
            click.echo(f"  load per process       {loads['openvino (cached)']}, cached")
            click.echo(f"                         {loads['openvino (cold)']}, cold: exporting first")
        elif name in loads:
            click.echo(f"  load per process       {loads[name]}")
        click.echo(f"  encode chunks          {rate:7.1f} chunks/s  ({rate / base_rate:.2f}x torch fp32)")
        click.echo(
            f"  one query              p50={percentile(latencies[name], 0.5) * 1000:6.1f} ms  "
            f"p95={percentile(latencies[name], 0.95) * 1000:6.1f} ms  (n={len(latencies[name])})"
        )
        click.echo(f"  cosine to torch fp32   min={low:.6f}  mean={mean:.6f}")
        rankings[name] = {}
        for set_name, queries in sets.items():
            recall, mrr, rankings[name][set_name] = retrieval_figures(
                chunk_vectors[name], owners, np.stack(query_vectors[name][set_name]), queries
            )
            same = ""
            if name != "torch":
                identical = sum(
                    ours[:5] == base[:5]
                    for ours, base in zip(rankings[name][set_name], rankings["torch"][set_name], strict=True)
                )
                same = f"  top-5 documents identical to torch fp32: {identical}/{len(queries)}"
            click.echo(f"  {set_name:<10} n={len(queries):<3} recall@5={recall:.3f}  MRR@10={mrr:.3f}{same}")

    if hybrid:
        click.echo("\n=== The project's retriever (hybrid, k=10), feature store built per backend ===")
        for name, groups in hybrid_retrieval(("torch", "openvino"), cache_dir).items():
            for group, figures in groups.items():
                click.echo(
                    f"{name:<9} {group:<13} n={int(figures['queries']):<3} recall@5={figures['recall']:.3f}  "
                    f"MRR@10={figures['mrr']:.3f}  nDCG@5={figures['ndcg']:.3f}"
                )


if __name__ == "__main__":
    main()
