"""Warm before ready (issue 23): what the first and the second question cost once `/ready` says ready.

    poetry run python -m bench.api_warm_up [--no-cold] [--embedding-cache DIR]

1. Stores: a throwaway nx-27017 warehouse and an embedded Qdrant folder holding the demo corpus (data/demo,
   one chunk per paragraph, indexed the way the tests do).
2. LLM: a stub OpenAI-compatible server that answers at once (tests/fixtures/stub_llm.py), so `/ready` can say
   ready and `/rag` times the service rather than a model.
3. The API under uvicorn (`tools.ml_service:app`): seconds until `/health` answers, then until `/ready` says
   ready (the warm-up: embedder, reranker, first search, capability probes), then POST /retrieve and POST /rag,
   the first and the second of each.
4. Unless --no-cold, a fresh API asked POST /retrieve as soon as `/health` answers: what the first question
   cost when `/ready` said ready before anything was loaded (the model load then ran inside the request).

The embedding model's OpenVINO export is read from --embedding-cache (default EMBEDDING_CACHE_DIR, as a
restart of the service finds it); an empty folder makes the warm-up export it first.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import click
import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
QUERIES = ("Why should retrieved passages be reranked before prompting?", "How do I keep a sourdough starter alive?")


def _timed_post(base: str, path: str, body: dict) -> float:
    started = time.perf_counter()
    response = httpx.post(f"{base}{path}", json=body, timeout=600)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise click.ClickException(f"{path} answered {response.status_code}: {response.text[:300]}")
    return seconds


def _until_ready(base: str, started: float, timeout_s: float = 900.0) -> tuple[float, int]:
    """Seconds from `started` until /ready stops saying warming_up, and how many /ready calls said so."""
    warming = 0
    while True:
        body = httpx.get(f"{base}/ready", timeout=60).json()
        if body["status"] != "warming_up":
            if body["status"] != "ready":
                raise click.ClickException(f"/ready: {body}")
            return time.monotonic() - started, warming
        warming += 1
        if time.monotonic() - started > timeout_s:
            raise click.ClickException(f"still warming up after {timeout_s:.0f}s: {body}")
        time.sleep(0.1)


def warm_figures(environment: dict[str, str], root: Path) -> dict[str, float]:
    """Start the API, wait for /ready, then time the first and second /retrieve and /rag."""
    from tests.rag_fixtures import running_api

    started = time.monotonic()
    with running_api(environment, root, wait_warm=False) as base:
        figures = {"health_s": time.monotonic() - started}
        figures["ready_s"], figures["ready_calls_warming"] = _until_ready(base, started)
        for round_name in ("first", "second"):
            figures[f"{round_name}_retrieve_s"] = _timed_post(base, "/retrieve", {"query": QUERIES[0], "k": 3})
        for round_name in ("first", "second"):
            figures[f"{round_name}_rag_s"] = _timed_post(base, "/rag", {"query": QUERIES[1], "k": 3})
    return figures


def cold_figures(environment: dict[str, str], root: Path) -> dict[str, float]:
    """Start the API and ask /retrieve as soon as /health answers (what a client saw before /ready waited)."""
    from tests.rag_fixtures import running_api

    started = time.monotonic()
    with running_api(environment, root, wait_warm=False) as base:
        figures = {"health_s": time.monotonic() - started}
        figures["first_retrieve_s"] = _timed_post(base, "/retrieve", {"query": QUERIES[0], "k": 3})
        figures["second_retrieve_s"] = _timed_post(base, "/retrieve", {"query": QUERIES[0], "k": 3})
    return figures


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--no-cold", is_flag=True, help="Skip the comparison with a question asked right after /health.")
@click.option(
    "--embedding-cache",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="EMBEDDING_CACHE_DIR of the API (default: the project's).",
)
def main(no_cold: bool, embedding_cache: Path | None) -> None:
    """Print the seconds to /health, to ready, and of the first and second /retrieve and /rag after ready."""
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from llm_engineering.settings import get_settings

    # Read before the test helpers are imported: tests.conftest sets a throwaway EMBEDDING_CACHE_DIR.
    cache = (embedding_cache or get_settings().embedding_cache_dir).resolve()
    sys.path.insert(0, str(PROJECT_ROOT))
    from llm_engineering.infrastructure.local.warehouse import embedded_warehouse
    from tests.fixtures.stub_llm import StubLLM
    from tests.rag_fixtures import index_demo_corpus_into

    with tempfile.TemporaryDirectory(prefix="bench-warm-up-") as folder, embedded_warehouse() as mongo_uri:
        root = Path(folder)
        chunks = index_demo_corpus_into(mongo_uri, "bench_warm_up", root / "qdrant")
        click.echo(f"Demo corpus: {chunks} chunks; embedding exports in {cache}")
        with StubLLM() as llm:
            environment = {
                "DATABASE_HOST": mongo_uri,
                "DATABASE_NAME": "bench_warm_up",
                "QDRANT_LOCAL_PATH": str(root / "qdrant"),
                "LOCAL_DATA_DIR": str(root / "local"),
                "EMBEDDING_CACHE_DIR": str(cache),
                "LLM_BASE_URL": llm.base_url,
                "LLM_MODEL_ID": llm.model_id,
                "LLM_MAX_RETRIES": "0",
            }
            warm = warm_figures(environment, root)
            cold = None if no_cold else cold_figures(environment, root)
    click.echo(
        f"\nWarm before ready: /health after {warm['health_s']:.1f}s, /ready said ready after {warm['ready_s']:.1f}s "
        f"({warm['ready_calls_warming']:.0f} calls answered warming_up meanwhile)"
    )
    click.echo(f"  POST /retrieve  first {warm['first_retrieve_s']:6.3f}s   second {warm['second_retrieve_s']:6.3f}s")
    click.echo(f"  POST /rag       first {warm['first_rag_s']:6.3f}s   second {warm['second_rag_s']:6.3f}s  (stub LLM)")
    if cold is not None:
        click.echo(
            f"Asked right after /health (before: /ready did not wait): first /retrieve {cold['first_retrieve_s']:.3f}s, "
            f"second {cold['second_retrieve_s']:.3f}s"
        )


if __name__ == "__main__":
    sys.exit(main())
