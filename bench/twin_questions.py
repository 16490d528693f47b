"""The twin's question set through /rag, per model: how often the model's own answer passes the guard, why the
rest fail, grounding, repetition, words, latency and the evaluation pipeline's style metrics.

    poetry run poe bench-twin-answers [--model SPEC ...] [--limit N] [--concurrency C] [--json PATH]
                                      [--base-url URL] [--timeout S] [--no-style]

1. Questions: `configs/twin_questions.yaml` (versioned, written from the handbook's articles, held out from
   the book's datasets), the first `--limit` of them.
2. Stores: the handbook corpus in the bench warehouse and Qdrant folder of `bench.rag_latency` (LOCAL_DATA_DIR/
   bench, filled once).
3. Per model (`--model`, repeatable: `base`, or a registry spec `llm_twin`, `llm_twin:v2`, a model folder;
   default the base model and every registered version of llm_twin): the llama.cpp engine serves it on a free
   port, a real uvicorn process runs the API against the bench stores with LLM_BASE_URL/LLM_MODEL_ID pointing
   at it, and, once /ready, `--concurrency` clients ask the questions through POST /rag. With `--base-url` an
   already-running OpenAI-compatible server answers instead, each `--model` being a model id it serves
   (default LLM_MODEL_ID).
4. One table row per model (`application.evaluation.twin_answers`): latency p50/p95 over the answered
   questions, errors and timeouts (no answer within `--timeout`, or the API's 504) counted apart.
   Style metrics (style margin, stylometric distance, as in the evaluation report) score the answers the
   model wrote, against a profile of the author's texts of the book's instruct dataset (train split).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from bench.rag_latency import HANDBOOK_DIR, PROJECT_ROOT, build_stores

QUESTION_SET = PROJECT_ROOT / "configs" / "twin_questions.yaml"
TWIN_NAME = "llm_twin"
BASE = "base"
READY_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Target:
    """A model to ask: its label in the table, the folder the llama.cpp engine serves (None: `--base-url`)
    and the model id the API sends."""

    label: str
    model_dir: Path | None
    model_id: str


def resolve_targets(specs: tuple[str, ...], base_url: str | None) -> list[Target]:
    """The models named by `--model` (default: base plus every registered llm_twin version)."""
    from llm_engineering import bootstrap
    from llm_engineering.domain.exceptions import LLMTwinError
    from llm_engineering.model.registry import ModelRegistry, RegisteredModel, publish_for_serving
    from llm_engineering.settings import get_settings

    settings = get_settings()
    if base_url:
        return [Target(spec, None, spec) for spec in specs or (bootstrap.served_model(settings).model_id,)]
    registry = ModelRegistry(settings.LOCAL_DATA_DIR / "registry")
    models_dir = settings.LOCAL_DATA_DIR / "models"
    chosen = specs or (BASE, *(f"{TWIN_NAME}:v{version}" for version in registry.versions(TWIN_NAME)))
    targets = []
    for spec in chosen:
        if spec == BASE:
            base_id = bootstrap.LOCAL_BASE_MODEL_ID
            targets.append(Target(f"base ({base_id})", models_dir / base_id, base_id))
            continue
        try:
            found = registry.lookup(spec)
            served = publish_for_serving(found, models_dir)
        except LLMTwinError as error:
            raise click.ClickException(str(error)) from error
        label = found.spec if isinstance(found, RegisteredModel) else served
        targets.append(Target(label, models_dir / served, served))
    return targets


@contextmanager
def served(target: Target, base_url: str | None, run_dir: Path) -> Iterator[str]:
    """The OpenAI-compatible URL answering for `target`: `base_url`, or a llama.cpp server started for it."""
    if target.model_dir is None:
        yield base_url or ""
        return
    from llm_engineering.infrastructure.local.llm_server import LlamaCppServer
    from llm_engineering.infrastructure.local.processes import free_port
    from llm_engineering.settings import get_settings

    settings = get_settings()
    server = LlamaCppServer(
        target.model_dir,
        port=free_port(),
        run_dir=run_dir,
        context_size=settings.LOCAL_LLM_CONTEXT_SIZE,
        parallel=settings.LOCAL_LLM_PARALLEL,
        threads=settings.LOCAL_LLM_THREADS,
        max_tokens=settings.MAX_NEW_TOKENS_INFERENCE,
    )
    report = server.prepare()
    if report:
        click.echo(report)
    click.echo(server.start(timeout_s=900))
    try:
        yield server.url
    finally:
        server.stop()


def wait_ready(client, base: str) -> None:  # type: ignore[no-untyped-def]
    """Poll GET /ready until every dependency answers; ClickException with the checks after READY_TIMEOUT_S."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        body = client.get(f"{base}/ready", timeout=60).json()
        if body.get("status") == "ready":
            return
        if time.monotonic() > deadline:
            raise click.ClickException(f"/ready: {body.get('checks')}")
        time.sleep(2.0)


def ask_all(base: str, label: str, questions: list, concurrency: int, timeout_s: float) -> list:
    """POST /rag for each question with `concurrency` clients; one `RagResult` per question, in order."""
    import httpx

    from llm_engineering.application.evaluation.twin_answers import RagResult, guard_category, result_from_response

    printing = threading.Lock()

    def ask(client: httpx.Client, question) -> RagResult:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            response = client.post(f"{base}/rag", json={"query": question.question}, timeout=timeout_s)
        except httpx.TimeoutException:
            seconds = time.perf_counter() - started
            result = RagResult(
                question.id, question.kind, seconds, error=f"no answer in {timeout_s:g}s", timed_out=True
            )
        except httpx.HTTPError as error:
            seconds = time.perf_counter() - started
            result = RagResult(question.id, question.kind, seconds, error=f"{type(error).__name__}: {error}")
        else:
            seconds = time.perf_counter() - started
            if response.status_code == 200:
                result = result_from_response(question.id, question.kind, seconds, response.json())
            else:
                detail = f"HTTP {response.status_code}: {response.text[:160]}"
                result = RagResult(
                    question.id, question.kind, seconds, error=detail, timed_out=response.status_code == 504
                )
        with printing:
            if result.answered:
                click.echo(
                    f"  [{label}] {seconds:6.1f}s  {result.answer_source:<10} {guard_category(result.guard) or 'passed':<12}"
                    f" words={result.reply_words} ground={_fmt(result.grounding, 2)} rep={_fmt(result.repetition, 2)}"
                    f"  {question.id}"
                )
            else:
                click.echo(
                    f"  [{label}] {seconds:6.1f}s  {'TIMEOUT' if result.timed_out else 'ERROR'}  {question.id}: {result.error}"
                )
        return result

    # Loopback only: never through the environment's proxy.
    limits = httpx.Limits(max_connections=concurrency + 2)
    with httpx.Client(trust_env=False, limits=limits) as client:
        wait_ready(client, base)
        # One untimed request first: loads the embedder, the reranker and the model's first prompt.
        try:
            client.post(f"{base}/rag", json={"query": "warm-up", "max_new_tokens": 1}, timeout=timeout_s)
        except httpx.HTTPError as error:  # the questions will show whether it lasts
            click.echo(f"  [{label}] warm-up failed: {error}")
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(lambda question: ask(client, question), questions))


def run_model(target: Target, args: dict, questions: list, bench_dir: Path, mongo_uri: str) -> list:
    """Serve `target`, start the API against the bench stores, ask the questions; the results."""
    from llm_engineering.infrastructure.local.api_server import running_api

    with served(target, args["base_url"], bench_dir / "run") as llm_url:
        environment = {
            "DATABASE_HOST": mongo_uri,
            "DATABASE_NAME": "bench",
            "QDRANT_LOCAL_PATH": str(bench_dir / "qdrant"),
            "LLM_PROVIDER": "openai",
            "LLM_BASE_URL": llm_url,
            "LLM_MODEL_ID": target.model_id,
        }
        click.echo(
            f"\n[{target.label}] API on {llm_url} as {target.model_id!r}: {len(questions)} questions, "
            f"{args['concurrency']} client(s)"
        )
        with running_api("tools.ml_service:app", bench_dir / "api-twin-questions.log", environment=environment) as base:
            return ask_all(base, target.label, questions, args["concurrency"], args["timeout"])


def style_scorer():  # type: ignore[no-untyped-def]
    """The evaluation pipeline's style metrics against the author's texts of the book's instruct dataset."""
    from llm_engineering import bootstrap
    from llm_engineering.model.dataset_files import load_book_dataset
    from llm_engineering.model.evaluation.model_evaluation import author_texts
    from llm_engineering.model.evaluation.style_scoring import ProfileStyleScorer
    from llm_engineering.settings import get_settings

    dataset = load_book_dataset(HANDBOOK_DIR / "artifacts" / "instruct_datasets.json")
    return ProfileStyleScorer.from_author_texts(bootstrap.build_embedder(get_settings()), author_texts(dataset))


def print_table(summaries: list, question_set, args: dict, loads: dict) -> None:  # type: ignore[no-untyped-def]
    settings_line = f"concurrency={args['concurrency']}  timeout={args['timeout']:g}s"
    click.echo(f"\n=== Twin answers through /rag (question set v{question_set.version}, {settings_line}) ===")
    click.echo(
        "model% = answers from the model (guard passed); ground/rep/words = the model's reply; latency over answered; llm = generation alone"
    )
    header = (
        f"{'model':<32}{'n':>4}{'ok':>4}{'err':>4}{'t/o':>4}{'model%':>8}{'ground':>8}{'rep':>7}{'words':>7}"
        f"{'p50 s':>8}{'p95 s':>8}{'llm p50':>8}{'style+':>8}{'stylo':>7}"
    )
    click.echo(header)
    for s in summaries:
        share = "-" if s.model_share is None else f"{100 * s.model_share:.0f}%"
        click.echo(
            f"{s.model[:31]:<32}{s.questions:>4}{s.answered:>4}{s.errors:>4}{s.timeouts:>4}{share:>8}"
            f"{_fmt(s.grounding, 3):>8}{_fmt(s.repetition, 3):>7}{_fmt(s.words, 1):>7}"
            f"{_fmt(s.latency_p50_s, 1):>8}{_fmt(s.latency_p95_s, 1):>8}{_fmt(s.llm_latency_p50_s, 1):>8}"
            f"{_fmt(s.style.get('style_margin'), 3):>8}{_fmt(s.style.get('stylometric_distance'), 2):>7}"
        )
    for s in summaries:
        reasons = ", ".join(f"{name} {count}" for name, count in s.guard_reasons.items()) or "none"
        kinds = ", ".join(
            f"{kind} {'-' if v is None else f'{100 * v:.0f}%'}" for kind, v in s.model_share_by_kind.items()
        )
        before, after = loads.get(s.model, (float("nan"), float("nan")))
        click.echo(
            f"{s.model}: guard reasons: {reasons}; model% by kind: {kinds}; style over {s.style_answers} answers; "
            f"load average {before:.1f} -> {after:.1f} on {os.cpu_count()} cores"
        )
        for sample in s.error_samples:
            click.echo(f"  error: {sample}")


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", "models", multiple=True, metavar="SPEC", help="base, llm_twin:vN, a folder (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Ask only the first N questions.")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True, help="Concurrent clients.")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), help="Write the results here.")
@click.option("--base-url", default=None, help="Use this running OpenAI-compatible server instead of serving.")
@click.option("--timeout", type=float, default=None, help="Seconds per /rag request (default API_REQUEST_TIMEOUT_S).")
@click.option("--no-style", is_flag=True, help="Skip the style metrics (they embed ~400 author texts).")
@click.option("--questions", "questions_path", type=click.Path(path_type=Path, dir_okay=False), default=QUESTION_SET)
def main(
    models: tuple[str, ...],
    limit: int | None,
    concurrency: int,
    json_path: Path | None,
    base_url: str | None,
    timeout: float | None,
    no_style: bool,
    questions_path: Path,
) -> None:
    """Ask the twin's question set through /rag for each model and print one row of figures per model."""
    if not (HANDBOOK_DIR / "warehouse").is_dir():
        raise click.ClickException(f"the book's corpus is not beside the project ({HANDBOOK_DIR} is absent)")
    from loguru import logger

    from llm_engineering import bootstrap
    from llm_engineering.application.evaluation.question_set import load_question_set
    from llm_engineering.application.evaluation.twin_answers import summarize
    from llm_engineering.infrastructure.local.warehouse import embedded_warehouse
    from llm_engineering.settings import get_settings
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = get_settings()
    question_set = load_question_set(questions_path)
    questions = question_set.first(limit)
    args = {"base_url": base_url, "concurrency": concurrency, "timeout": timeout or settings.API_REQUEST_TIMEOUT_S + 5}
    targets = resolve_targets(models, base_url)
    bench_dir = (settings.LOCAL_DATA_DIR / "bench").resolve()
    results: dict[str, list] = {}
    loads: dict[str, tuple[float, float]] = {}
    with embedded_warehouse(bench_dir / "warehouse") as mongo_uri:
        try:
            articles, chunks = build_stores(bench_dir, mongo_uri)
            click.echo(
                f"Stores: {articles} articles, {chunks} chunks; {len(questions)} of {len(question_set.questions)} questions"
            )
        finally:
            bootstrap.reset()  # the API process opens the Qdrant folder next
        for target in targets:
            before = os.getloadavg()[0]
            results[target.label] = run_model(target, args, questions, bench_dir, mongo_uri)
            # Latency on a shared machine means little without the load it ran under.
            loads[target.label] = (before, os.getloadavg()[0])
    scorer = None if no_style else style_scorer()
    summaries = [summarize(label, rows, scorer) for label, rows in results.items()]
    print_table(summaries, question_set, args, loads)
    if json_path:
        payload = {
            "question_set": {"path": str(questions_path), "version": question_set.version, "asked": len(questions)},
            "settings": {"concurrency": concurrency, "timeout_s": args["timeout"], "base_url": base_url},
            "load_average": {label: {"before": b, "after": a} for label, (b, a) in loads.items()},
            "models": [
                {"summary": asdict(s), "metrics": s.metrics(), "results": [asdict(r) for r in results[s.model]]}
                for s in summaries
            ],
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
        click.echo(f"Results written to {json_path}")


if __name__ == "__main__":
    main()
