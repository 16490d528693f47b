"""Answer quality bench: do the twin's answers loop, and do they stay with their sources?

    poetry run python -m bench.answer_quality [--show-answers] [--k 3]

1. Stores: the demo corpus (`data/demo/articles`, by Mara Quillon) in an nx-27017 warehouse and an
   embedded Qdrant folder under LOCAL_DATA_DIR/bench-answers, filled once (import + feature pipeline).
2. For each question of a fixed set (the quickstart's question and the docs' examples), the RAG use
   case runs in-process with the configured LLM (start the local one: `poetry run poe local-llm-up`).
3. Per answer, judge-free figures (`llm_engineering.application.rag.answer_quality`):
   - repetition: share of word 4-grams repeating an earlier one (0 = no loop), and repeated sentences;
   - grounding: share of the answer's content words found in the passages it was given;
   - invalid citations: `[n]` naming no passage of the prompt; plus tokens, latency and LLM calls.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from llm_engineering.domain.base.nosql import DocumentRepository
    from llm_engineering.domain.base.vector import VectorIndex

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_CORPUS = PROJECT_ROOT / "data" / "demo" / "articles"
DEMO_AUTHOR = "Mara Quillon"

QUESTIONS = [
    "I am Mara Quillon. Write a short LinkedIn post on why a RAG system should rerank before it prompts.",
    "Write a short LinkedIn post about why a RAG system needs a reranking step.",
    "Write a post about chunking",
    "How should I evaluate a RAG system before changing it?",
]


class CountingLLM:
    """Wraps the configured LLM client to count the calls one question makes."""

    def __init__(self, inner):  # type: ignore[no-untyped-def]
        self.inner = inner
        self.calls = 0

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    def chat(self, messages, parameters=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.inner.chat(messages, parameters)

    def complete(self, prompt, parameters=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.inner.complete(prompt, parameters)


def fill_stores(documents: DocumentRepository, index: VectorIndex, corpus: Path, author: str) -> int:
    """Import `corpus` into `documents` and, when `index` holds no article chunk yet, run the feature pipeline;
    returns the article chunks in `index`."""
    from llm_engineering.application.warehouse.markdown_import import import_markdown_corpus
    from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk

    import_markdown_corpus(documents, corpus, author)
    if index.count(EmbeddedArticleChunk) == 0:
        from llm_engineering.bootstrap import use_project_zenml_store
        from pipelines.feature_engineering import feature_engineering

        use_project_zenml_store()  # the run goes to this checkout's ZenML store
        click.echo("Running the feature pipeline on the demo corpus (first run only)...")
        feature_engineering.with_options(run_name=f"bench_answers_features_{int(time.time())}")(
            author_full_names=[author]
        )
    return index.count(EmbeddedArticleChunk)


def run(questions: list[str], k: int, show_answers: bool) -> list[dict]:
    from llm_engineering import bootstrap
    from llm_engineering.application.rag.answer_quality import (
        grounding_score,
        invalid_citations,
        repeated_sentences,
        repetition_rate,
    )

    container = bootstrap.container()
    llm = CountingLLM(container.llm())
    container = bootstrap.override(llm=llm)
    settings = container.settings
    rows = []
    for question in questions:
        llm.calls = 0
        started = time.perf_counter()
        retrieval_result = container.retriever().search_with_trace(
            question, k=k, expand_to_n_queries=settings.RAG_EXPAND_TO_N_QUERIES
        )
        answer = container.answer_generator().generate(question, retrieval_result, container.generation_parameters())
        seconds = time.perf_counter() - started
        texts = [item.chunk.content for item in retrieval_result.chunks]
        retrieval = answer.trace["retrieval"]
        row = {
            "question": question,
            "answer": answer.answer,
            "repetition": repetition_rate(answer.answer),
            "repeated_sentences": repeated_sentences(answer.answer),
            "grounding": grounding_score(answer.answer, texts),
            # [n] cites the n-th source (one numbered prompt block per document).
            "invalid_citations": invalid_citations(answer.answer, len(answer.sources)),
            "tokens": answer.trace["generation"]["completion_tokens"],
            "seconds": round(seconds, 1),
            "llm_calls": llm.calls,
            "self_query": retrieval.get("self_query", {}).get("status"),
            "expansion": retrieval.get("query_expansion", {}).get("status"),
            "sources": len(answer.sources),
            "answer_source": answer.trace["generation"].get("answer_source", "model"),
            "guard": answer.trace["generation"].get("guard", "-"),
        }
        rows.append(row)
        click.echo(
            f"  {row['seconds']:6.1f}s  rep={row['repetition']:.3f}  ground={row['grounding']:.3f}  "
            f"llm_calls={row['llm_calls']}  tokens={row['tokens']}  from={row['answer_source']}  {question[:60]}"
        )
        if show_answers:
            click.echo(f"      guard: {row['guard']}")
            click.echo("      " + answer.answer.replace("\n", "\n      "))
    return rows


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--k", default=3, show_default=True, help="Passages in each prompt.")
@click.option("--show-answers", is_flag=True, help="Print every answer under its figures.")
@click.option("--corpus", type=click.Path(path_type=Path, file_okay=False), default=DEMO_CORPUS, show_default=True)
@click.option("--author", default=DEMO_AUTHOR, show_default=True)
def main(k: int, show_answers: bool, corpus: Path, author: str) -> None:
    """Repetition and grounding of the twin's answers over a fixed question set."""
    from loguru import logger

    from llm_engineering import bootstrap
    from llm_engineering.infrastructure.local.warehouse import embedded_warehouse
    from llm_engineering.settings import get_settings, load_settings

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    bench_dir = (get_settings().LOCAL_DATA_DIR / "bench-answers").resolve()
    with embedded_warehouse(bench_dir / "warehouse") as uri:
        settings = load_settings(DATABASE_HOST=uri, DATABASE_NAME="answers", QDRANT_LOCAL_PATH=bench_dir / "qdrant")
        container = bootstrap.configure(settings)
        bootstrap.use_embedding_threads(settings, "query")  # in-process RAG, as the API runs it
        try:
            chunks = fill_stores(container.documents(), container.vector_index(), corpus, author)
            llm = container.llm()
            click.echo(f"corpus: {corpus.name} -> {chunks} chunks; LLM: {llm.model_id} at {llm.endpoint}")
            rows = run(QUESTIONS, k, show_answers)
        finally:
            bootstrap.reset()
    click.echo("\n=== Answer quality (demo corpus, judge-free) ===")
    click.echo(f"questions: {len(rows)}  k={k}  max_new_tokens={settings.MAX_NEW_TOKENS_INFERENCE}")
    click.echo(
        f"repetition rate (4-grams)  mean={statistics.mean(r['repetition'] for r in rows):.3f}  "
        f"max={max(r['repetition'] for r in rows):.3f}"
    )
    click.echo(f"repeated sentences         total={sum(r['repeated_sentences'] for r in rows)}")
    click.echo(
        f"grounding (content words)  mean={statistics.mean(r['grounding'] for r in rows):.3f}  "
        f"min={min(r['grounding'] for r in rows):.3f}"
    )
    click.echo(f"invalid citations          total={sum(len(r['invalid_citations']) for r in rows)}")
    click.echo(f"LLM calls per question     mean={statistics.mean(r['llm_calls'] for r in rows):.1f}")
    extracted = sum(r["answer_source"] == "extractive" for r in rows)
    click.echo(f"answers from the model     {len(rows) - extracted} of {len(rows)} (extractive fallback: {extracted})")
    click.echo(f"latency per question       mean={statistics.mean(r['seconds'] for r in rows):.1f}s")


if __name__ == "__main__":
    main()
