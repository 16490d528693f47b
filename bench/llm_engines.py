"""Local LLM engines on the packaged Gemma 3 270M: llama.cpp (the Q4_K_M GGUF as it is) against
`transformers serve` (the fp32 folder de-quantized from it by `model.gguf_conversion`).

    poetry run python -m bench.llm_engines [--engines llamacpp,transformers] [--runs 3] [--transformers-runs 1]
                                           [--max-tokens 32] [--threads N] [--fresh-conversion]

Both engines get the same prompts through the project's OpenAI-compatible client, as streamed chats (what
/rag/stream sends): a /rag prompt of about 1.5k tokens (the RAG system prompt, a question, numbered passages
of the demo corpus, RAG_MAX_CONTEXT_CHARS long) and a short one. Each run asks a slightly different question,
so no engine answers from a cached prompt. Per engine: what it needs before it can start (the conversion for
transformers, nothing for llama.cpp), the server's start, then per prompt the median time to first token and
generation tokens/s (completion tokens after the first, over the time after the first). Sampling is the API's
(temperature, top_p, repetition penalty from the settings), no stop sequences, `--max-tokens` per answer.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_ARTICLES = PROJECT_ROOT / "data" / "demo" / "articles"
QUESTIONS = [
    "How should I choose a chunk size for a RAG system?",
    "What does a local-first LLM stack need?",
    "How do I evaluate a RAG system with a small set of questions?",
    "Why do retrieval and generation fail in different ways?",
    "What makes a good answer from a twin of an author?",
]


@dataclass
class Run:
    first_token_s: float
    tokens_per_s: float | None
    completion_tokens: int
    prompt_tokens: int | None


def rag_messages(question: str, max_chars: int) -> list:
    """The /rag chat turns for `question` over the demo corpus's paragraphs, up to `max_chars` of passages."""
    from llm_engineering.application.llm.client import ChatMessage
    from llm_engineering.domain.prompts import RAG_SYSTEM_PROMPT, format_rag_instruction

    paragraphs = [
        block.strip()
        for path in sorted(DEMO_ARTICLES.glob("*.md"))
        for block in path.read_text(encoding="utf-8").split("\n\n")
        if len(block.strip()) > 200
    ]
    passages, used = [], 0
    for paragraph in paragraphs:
        if used + len(paragraph) > max_chars:
            break
        passages.append(paragraph)
        used += len(paragraph)
    context = "\n\n".join(f"[{number}] {text}" for number, text in enumerate(passages, start=1))
    return [
        ChatMessage("system", RAG_SYSTEM_PROMPT),
        ChatMessage("user", format_rag_instruction(question, context, len(passages))),
    ]


def short_messages(question: str) -> list:
    from llm_engineering.application.llm.client import ChatMessage

    return [ChatMessage("user", question)]


def measure(client, messages: list, parameters) -> Run:
    """One streamed chat: seconds to the first text, then completion tokens/s after it."""
    started = time.perf_counter()
    first_at = None
    stream = client.stream_chat(messages, parameters)
    while True:
        try:
            next(stream)
        except StopIteration as done:
            response = done.value
            break
        if first_at is None:
            first_at = time.perf_counter()
    ended = time.perf_counter()
    first_at = first_at or ended
    tokens = response.completion_tokens or 0
    rate = (tokens - 1) / (ended - first_at) if tokens > 1 and ended > first_at else None
    return Run(first_at - started, rate, tokens, response.prompt_tokens)


def bench_engine(engine: str, settings, models_dir: Path, runs: int, max_tokens: int, threads: int) -> dict:
    from llm_engineering.application.llm.client import GenerationParameters
    from llm_engineering.application.rag.answering import DEFAULT_MAX_CONTEXT_CHARS
    from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient
    from llm_engineering.infrastructure.local.llm_server import LlamaCppServer, LocalLLMServer
    from llm_engineering.infrastructure.local.processes import free_port
    from llm_engineering.model.gguf_conversion import CONVERSION_MARKER, is_converted

    model_dir = models_dir / "gemma-3-270m-twin"
    run_dir = Path(tempfile.mkdtemp(prefix=f"bench-{engine}-"))
    result: dict = {"engine": engine}
    if engine == "llamacpp":
        server: LocalLLMServer = LlamaCppServer(
            model_dir,
            port=free_port(),
            run_dir=run_dir,
            context_size=settings.LOCAL_LLM_CONTEXT_SIZE,
            parallel=settings.LOCAL_LLM_PARALLEL,
            threads=threads,
        )
        result["threads"] = threads or "auto"
    else:
        server = LocalLLMServer(model_dir, port=free_port(), run_dir=run_dir, pinned=True)
    cached = engine == "transformers" and is_converted(model_dir)
    started = time.perf_counter()
    server.prepare()
    result["prepare_s"] = time.perf_counter() - started
    if cached:
        recorded = json.loads((model_dir / CONVERSION_MARKER).read_text()).get("seconds")
        result["prepare_note"] = f"conversion cached (it took {recorded}s when made; --fresh-conversion to time it)"
    elif engine == "transformers":
        result["prepare_note"] = "conversion (de-quantize to fp32, save 1.1 GB)"
    else:
        result["prepare_note"] = "GGUF joined from its package (nothing de-quantized)"
    click.echo(f"[{engine}] prepared in {result['prepare_s']:.1f}s: {result['prepare_note']}")
    started = time.perf_counter()
    server.start(timeout_s=900)
    result["start_s"] = time.perf_counter() - started
    click.echo(f"[{engine}] server up in {result['start_s']:.1f}s ({server.log_file})")
    client = OpenAICompatibleClient(server.url, server.served_model_id, timeout_s=1800)
    parameters = GenerationParameters(
        max_new_tokens=max_tokens,
        temperature=settings.TEMPERATURE_INFERENCE,
        top_p=settings.TOP_P_INFERENCE,
        repetition_penalty=settings.REPETITION_PENALTY_INFERENCE,
    )
    try:
        started = time.perf_counter()
        measure(client, short_messages("Say hello."), GenerationParameters(max_new_tokens=2))  # loads the model
        result["warmup_s"] = time.perf_counter() - started
        for kind in ("rag", "short"):
            measured = []
            for index in range(runs):
                question = QUESTIONS[index % len(QUESTIONS)] + f" (run {index + 1})"
                messages = (
                    rag_messages(question, settings.RAG_MAX_CONTEXT_CHARS or DEFAULT_MAX_CONTEXT_CHARS)
                    if kind == "rag"
                    else short_messages(question)
                )
                run = measure(client, messages, parameters)
                rate = f"{run.tokens_per_s:.2f}" if run.tokens_per_s is not None else "n/a"
                click.echo(
                    f"[{engine}] {kind:<5} run {index + 1}: prompt {run.prompt_tokens} tokens, first token "
                    f"{run.first_token_s:.2f}s, {run.completion_tokens} tokens at {rate} tokens/s"
                )
                measured.append(run)
            result[kind] = measured
    finally:
        client.close()
        server.stop()
    return result


def _median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


@click.command()
@click.option("--engines", default="llamacpp,transformers", show_default=True)
@click.option("--runs", default=3, show_default=True, help="Runs per prompt for llama.cpp.")
@click.option("--transformers-runs", default=1, show_default=True, help="Runs per prompt for transformers serve.")
@click.option("--max-tokens", default=32, show_default=True, help="Tokens per answer.")
@click.option("--threads", default=None, type=int, help="llama.cpp threads (default LOCAL_LLM_THREADS; 0 = auto).")
@click.option("--fresh-conversion", is_flag=True, help="Convert into a temp folder to time it (4-5 minutes).")
def main(
    engines: str, runs: int, transformers_runs: int, max_tokens: int, threads: int | None, fresh_conversion: bool
) -> None:
    from llm_engineering.settings import get_settings
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()
    settings = get_settings()
    models_dir = settings.LOCAL_DATA_DIR / "models"
    if fresh_conversion:
        models_dir = Path(tempfile.mkdtemp(prefix="bench-models-"))
    results = []
    for engine in [name.strip() for name in engines.split(",") if name.strip()]:
        count = runs if engine == "llamacpp" else transformers_runs
        chosen_threads = settings.LOCAL_LLM_THREADS if threads is None else threads
        results.append(bench_engine(engine, settings, models_dir, count, max_tokens, chosen_threads))

    click.echo("")
    click.echo(
        f"Gemma 3 270M, {max_tokens} tokens per answer; prepare = before the server can start, start+1st = server "
        "start and a first 2-token answer (model load); medians of time to first token and generation tokens/s"
    )
    header = f"{'engine':<14}{'prepare s':>10}{'start+1st s':>12}{'rag TTFT s':>12}{'rag tok/s':>11}"
    click.echo(header + f"{'short TTFT s':>14}{'short tok/s':>13}  prompt tokens (rag)")
    rates: dict[str, dict[str, float | None]] = {}
    for result in results:
        rates[result["engine"]] = {kind: _median([r.tokens_per_s for r in result[kind]]) for kind in ("rag", "short")}
        prompt_tokens = _median([r.prompt_tokens for r in result["rag"]])
        click.echo(
            f"{result['engine']:<14}{result['prepare_s']:>10.1f}{result['start_s'] + result['warmup_s']:>12.1f}"
            f"{_fmt(_median([r.first_token_s for r in result['rag']])):>12}{_fmt(rates[result['engine']]['rag']):>11}"
            f"{_fmt(_median([r.first_token_s for r in result['short']])):>14}"
            f"{_fmt(rates[result['engine']]['short']):>13}  {_fmt(prompt_tokens, 0)}"
        )
    if {"llamacpp", "transformers"} <= rates.keys():
        for kind in ("rag", "short"):
            fast, slow = rates["llamacpp"][kind], rates["transformers"][kind]
            if fast and slow:
                click.echo(f"llama.cpp / transformers serve, {kind} generation tokens/s: {fast / slow:.1f}x")


if __name__ == "__main__":
    main()
