"""Query-embedding latency by encoding threads: what `EMBEDDING_THREADS` decides for a query process.

Each setting runs in processes of its own, as a query process would (the threads are chosen before the
model loads: torch's per thread, OpenVINO's when the model is compiled): `auto` (EMBEDDING_THREADS=0, one
thread in a query process) against a fixed count (default 2). Every process encodes the 20 bench queries
one per call, as the API and `tools.rag` do, on the main thread and on a worker thread, in turn. The
settings alternate process by process, so load from other jobs on the machine falls on both alike.

    poetry run python -m bench.query_embedding [--rounds 3] [--compare-threads 2] [--backend torch]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import click

from bench.rag_latency import QUERIES, percentile


def _summary(label: str, seconds: list[float]) -> str:
    return (
        f"{label:<32} n={len(seconds):<4} p50={percentile(seconds, 0.5) * 1000:8.1f} ms   "
        f"p95={percentile(seconds, 0.95) * 1000:8.1f} ms   mean={statistics.mean(seconds) * 1000:8.1f} ms"
    )


def measure() -> dict:
    """In this process (a query process): load the configured embedder, time one-query calls on the main
    thread and on a worker thread."""
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()
    from loguru import logger

    from llm_engineering import bootstrap
    from llm_engineering.settings import get_settings

    logger.remove()
    settings = get_settings()
    threads = bootstrap.use_embedding_threads(settings, "query")
    embedder = bootstrap.build_embedder(settings)
    started = time.perf_counter()
    embedder.embed(["warm-up"])
    load_s = time.perf_counter() - started

    def timed(query: str) -> float:
        began = time.perf_counter()
        embedder.embed([query])
        return time.perf_counter() - began

    main_thread: list[float] = []
    worker_thread: list[float] = []
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(timed, QUERIES[0]).result()  # each thread's first call pays its own set-up
        timed(QUERIES[0])
        for query in QUERIES:
            main_thread.append(timed(query))
            worker_thread.append(worker.submit(timed, query).result())
    return {
        "threads": threads,
        "backend": getattr(embedder, "active_backend", type(embedder).__name__),
        "load_s": load_s,
        "main": main_thread,
        "worker": worker_thread,
    }


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--rounds", default=3, show_default=True, help="Processes per setting (each: 20 queries per thread).")
@click.option("--compare-threads", default=2, show_default=True, help="The thread count compared with auto.")
@click.option("--backend", default=None, help="EMBEDDING_BACKEND for the measured processes (default: settings).")
@click.option("--worker", is_flag=True, hidden=True, help="Measure in this process and print JSON.")
def main(rounds: int, compare_threads: int, backend: str | None, worker: bool) -> None:
    """Print p50/p95 of one-query embedding calls with auto threads against --compare-threads threads."""
    if worker:
        click.echo(json.dumps(measure()))
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    extra = {"EMBEDDING_BACKEND": backend} if backend else {}
    settings_under_test = {"auto": "0", f"{compare_threads} threads": str(compare_threads)}
    results: dict[str, list[dict]] = {label: [] for label in settings_under_test}
    for _ in range(rounds):
        for label, value in settings_under_test.items():
            environment = {**os.environ, **extra, "EMBEDDING_THREADS": value}
            command = [sys.executable, "-m", "bench.query_embedding", "--worker"]
            done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False, timeout=900)
            if done.returncode != 0:
                raise click.ClickException(f"the measuring process failed:\n{done.stderr[-3000:]}")
            results[label].append(json.loads(done.stdout.strip().splitlines()[-1]))

    load = os.getloadavg()
    first = next(iter(results.values()))[0]
    click.echo("\n=== Query embedding (one query per call, a query process) ===")
    click.echo(
        f"backend: {first['backend']}; model load {statistics.mean(r['load_s'] for rs in results.values() for r in rs):.1f}s "
        f"(mean); {rounds} process(es) per setting; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    for label, runs in results.items():
        threads = runs[0]["threads"]
        name = f"auto ({threads})" if label == "auto" else label
        click.echo(_summary(f"main thread, {name}", [s for run in runs for s in run["main"]]))
        click.echo(_summary(f"worker thread, {name}", [s for run in runs for s in run["worker"]]))


if __name__ == "__main__":
    sys.exit(main())
