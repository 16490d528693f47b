"""The API under a hung LLM: can /rag requests starve /retrieve and /ready? (issue 20)

    poetry run python -m bench.api_hung_llm [--rag-requests 50] [--deadline 20] [--slots 4]

1. Stores: a throwaway nx-27017 warehouse and an embedded Qdrant folder holding the demo corpus
   (data/demo, one chunk per paragraph, indexed the way the tests do).
2. LLM: a black-hole server on 127.0.0.1 that accepts connections, reads the requests and never answers.
3. The API under uvicorn (`tools.ml_service:app`): API_REQUEST_TIMEOUT_S = LLM_TIMEOUT_S = --deadline, no
   retries, LLM_MAX_CONCURRENT_REQUESTS = --slots, self-query and expansion off (so every /rag goes straight
   to a generation that hangs).
4. Fires --rag-requests concurrent POST /rag; meanwhile times POST /retrieve and GET /ready, one after the
   other, until every /rag has answered. Prints p50/p95/max of each (idle first, for comparison), the /rag
   answers, and how many LLM connections are still open once the deadline passed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import click
import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Seconds after the last /rag answer within which the LLM connections must be closed.
CLOSE_GRACE_S = 5.0
RETRIEVE_BODY = {"query": "Why should retrieved passages be reranked before prompting?", "k": 3}


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in 0..1) of a non-empty list."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def _summary(label: str, seconds: list[float]) -> str:
    if not seconds:
        return f"{label:<34} n=0"
    return (
        f"{label:<34} n={len(seconds):<4} p50={percentile(seconds, 0.5) * 1000:8.1f} ms   "
        f"p95={percentile(seconds, 0.95) * 1000:8.1f} ms   max={max(seconds) * 1000:8.1f} ms"
    )


def index_corpus(mongo_uri: str, database: str, qdrant_path: Path) -> None:
    """The demo corpus into the warehouse and the Qdrant folder, released before the API opens them."""
    sys.path.insert(0, str(PROJECT_ROOT))
    from tests.rag_fixtures import index_demo_corpus_into

    chunks = index_demo_corpus_into(mongo_uri, database, qdrant_path)
    click.echo(f"Indexed the demo corpus: {chunks} chunks")


def wait_until_warm(base: str, timeout_s: float = 600.0) -> None:
    """Until /retrieve answers 200: the warm-up loads the embedding model first (not part of the figures)."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = httpx.post(f"{base}/retrieve", json=RETRIEVE_BODY, timeout=timeout_s).status_code
        if status == 200:
            return
        if time.monotonic() > deadline:
            raise click.ClickException(f"/retrieve still answers {status} after {timeout_s:.0f}s")
        time.sleep(1)


async def _timed(client: httpx.AsyncClient, method: str, path: str, **kwargs: object) -> tuple[float, int]:
    started = time.perf_counter()
    response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
    return time.perf_counter() - started, response.status_code


async def _probe_once(client: httpx.AsyncClient, timings: dict[str, list[float]], codes: Counter) -> None:
    for name, method, path, kwargs in (
        ("retrieve", "POST", "/retrieve", {"json": RETRIEVE_BODY}),
        ("ready", "GET", "/ready", {}),
    ):
        seconds, status = await _timed(client, method, path, **kwargs)
        timings[name].append(seconds)
        codes[f"{name} {status}"] += 1


async def measure(base: str, llm, rag_requests: int, deadline_s: float, idle_rounds: int) -> dict:  # type: ignore[no-untyped-def]
    """Idle timings, then the /rag storm with timings of /retrieve and /ready alongside."""
    async with httpx.AsyncClient(base_url=base, timeout=deadline_s + 120) as client:
        idle: dict[str, list[float]] = {"retrieve": [], "ready": []}
        idle_codes: Counter = Counter()
        for _ in range(idle_rounds):
            await _probe_once(client, idle, idle_codes)

        busy: dict[str, list[float]] = {"retrieve": [], "ready": []}
        busy_codes: Counter = Counter()
        started = time.perf_counter()
        rag = [
            asyncio.create_task(_timed(client, "POST", "/rag", json={"query": f"How should I chunk my notes? ({i})"}))
            for i in range(rag_requests)
        ]
        most_open = 0
        while not all(task.done() for task in rag):
            await _probe_once(client, busy, busy_codes)
            most_open = max(most_open, llm.open_connections)
        rag_results = [task.result() for task in rag]
        storm_s = time.perf_counter() - started

    open_at_end = llm.open_connections
    grace_started = time.perf_counter()
    closed = await asyncio.to_thread(llm.wait_for_open, 0, CLOSE_GRACE_S)
    return {
        "idle": idle,
        "idle_codes": idle_codes,
        "busy": busy,
        "busy_codes": busy_codes,
        "rag_seconds": [seconds for seconds, _ in rag_results],
        "rag_codes": Counter(status for _, status in rag_results),
        "storm_s": storm_s,
        "most_open": most_open,
        "accepted": llm.accepted,
        "open_at_end": open_at_end,
        "open_after_grace": llm.open_connections,
        "closed_within_s": (time.perf_counter() - grace_started) if closed else None,
    }


def report(figures: dict, rag_requests: int, deadline_s: float, slots: int) -> None:
    click.echo("\n=== API under a hung LLM (black-hole server) ===")
    click.echo(
        f"{rag_requests} concurrent POST /rag; API_REQUEST_TIMEOUT_S=LLM_TIMEOUT_S={deadline_s:g}s, "
        f"LLM_MAX_RETRIES=0, LLM_MAX_CONCURRENT_REQUESTS={slots}; os.cpu_count()={os.cpu_count()}"
    )
    click.echo(_summary("idle: POST /retrieve", figures["idle"]["retrieve"]))
    click.echo(_summary("idle: GET /ready", figures["idle"]["ready"]))
    click.echo(_summary("during /rag storm: POST /retrieve", figures["busy"]["retrieve"]))
    click.echo(_summary("during /rag storm: GET /ready", figures["busy"]["ready"]))
    click.echo(f"status codes (idle):   {dict(sorted(figures['idle_codes'].items()))}")
    click.echo(f"status codes (storm):  {dict(sorted(figures['busy_codes'].items()))}")
    click.echo(_summary("POST /rag (all answers)", figures["rag_seconds"]))
    click.echo(f"/rag answers: {dict(sorted(figures['rag_codes'].items()))} in {figures['storm_s']:.1f}s")
    click.echo(
        f"LLM connections: {figures['accepted']} accepted, at most {figures['most_open']} open at once; "
        f"open when the last /rag answered: {figures['open_at_end']}; "
        f"{CLOSE_GRACE_S:g}s later: {figures['open_after_grace']}"
        + (f" (all closed within {figures['closed_within_s']:.2f}s)" if figures["closed_within_s"] is not None else "")
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--rag-requests", default=50, show_default=True, help="Concurrent POST /rag requests.")
@click.option("--deadline", default=20.0, show_default=True, help="API_REQUEST_TIMEOUT_S (= LLM_TIMEOUT_S), seconds.")
@click.option("--slots", default=4, show_default=True, help="LLM_MAX_CONCURRENT_REQUESTS.")
@click.option("--idle-rounds", default=10, show_default=True, help="/retrieve + /ready timings before the storm.")
def main(rag_requests: int, deadline: float, slots: int, idle_rounds: int) -> None:
    """Print /retrieve and /ready latency percentiles while --rag-requests /rag requests wait on a hung LLM."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(PROJECT_ROOT))
    from llm_engineering.infrastructure.local.warehouse import embedded_warehouse
    from tests.fixtures.black_hole_llm import BlackHoleServer
    from tests.rag_fixtures import running_api

    with tempfile.TemporaryDirectory(prefix="bench-hung-llm-") as folder, embedded_warehouse() as mongo_uri:
        root = Path(folder)
        index_corpus(mongo_uri, "bench_hung_llm", root / "qdrant")
        with BlackHoleServer() as llm:
            environment = {
                "DATABASE_HOST": mongo_uri,
                "DATABASE_NAME": "bench_hung_llm",
                "QDRANT_LOCAL_PATH": str(root / "qdrant"),
                "LOCAL_DATA_DIR": str(root / "local"),
                "LLM_BASE_URL": llm.base_url,
                "LLM_MODEL_ID": "hung-twin",
                "LLM_TIMEOUT_S": str(deadline),
                "LLM_MAX_RETRIES": "0",
                "LLM_MAX_CONCURRENT_REQUESTS": str(slots),
                "API_REQUEST_TIMEOUT_S": str(deadline),
                "RAG_SELF_QUERY": "off",
                "RAG_QUERY_EXPANSION": "off",
                "RAG_TOP_K": "3",
            }
            with running_api(environment, root) as base:
                wait_until_warm(base)
                figures = asyncio.run(measure(base, llm, rag_requests, deadline, idle_rounds))
    report(figures, rag_requests, deadline, slots)


if __name__ == "__main__":
    sys.exit(main())
