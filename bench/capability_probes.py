"""Capability probes at a service start, against the configured LLM (LLM_BASE_URL, LLM_MODEL_ID): seconds and
LLM calls on the first start on a model (no cached verdict) and on a restart (verdicts cached).

Each start builds the self-query and query-expansion steps afresh and decides both, as the API's warm-up
does. The verdicts go to a temporary cache file, never LOCAL_DATA_DIR/cache.

    poetry run python -m bench.capability_probes [--restarts 3]     # start the LLM first: poe local-llm-up
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import click


class CountingLLM:
    """Passes calls on to an `LLMClient` and counts them."""

    def __init__(self, llm) -> None:  # type: ignore[no-untyped-def]
        self.llm = llm
        self.calls = 0

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.llm, name)

    def chat(self, messages, parameters=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.llm.chat(messages, parameters)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--restarts", default=3, show_default=True, help="Starts after the first one.")
def main(restarts: int) -> None:
    """Print the seconds and LLM calls of the capability probes on a first start and on restarts."""
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()

    from loguru import logger

    from llm_engineering import bootstrap
    from llm_engineering.application.rag.query_expansion import QueryExpansion
    from llm_engineering.application.rag.self_query import SelfQuery
    from llm_engineering.settings import get_settings

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    settings = get_settings()
    llm = CountingLLM(bootstrap.build_llm_client(settings))
    llm.ping()
    timeout_s = settings.RAG_CAPABILITY_PROBE_TIMEOUT_S
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-probes-") as folder:
        cache = Path(folder) / "capabilities.json"
        for start in range(1 + restarts):
            calls_before, started = llm.calls, time.perf_counter()
            memory = bootstrap.build_probe_memory(settings, llm, cache_file=cache)
            steps = {
                "self-query": SelfQuery(llm, mode="auto", memory=memory, probe_timeout_s=timeout_s),
                "query expansion": QueryExpansion(llm, mode="auto", memory=memory, probe_timeout_s=timeout_s),
            }
            decisions = {name: step.capability.decide() for name, step in steps.items()}
            label = "first start" if start == 0 else f"restart {start}"
            rows.append((label, time.perf_counter() - started, llm.calls - calls_before, decisions))
        key = memory.key()

    click.echo("\n=== Capability probes at a service start ===")
    click.echo(f"LLM: {llm.model_id} at {settings.LLM_BASE_URL}; probe time limit {timeout_s:g}s")
    click.echo(f"model key: {key}")
    for label, seconds, calls, decisions in rows:
        verdicts = "; ".join(f"{name}: {decision.reason[:70]}" for name, decision in decisions.items())
        click.echo(f"{label:<12} {seconds:7.2f}s  {calls} LLM call(s)  {verdicts}")


if __name__ == "__main__":
    sys.exit(main())
