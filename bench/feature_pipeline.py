"""Feature pipeline throughput on the book's corpus (76 articles), against its floor: bare `model.encode`.

Starts a real nx-27017 warehouse on a free port and Qdrant local mode in a temporary folder, imports
`../shared/data/handbook/warehouse`, then times each stage of the pipeline's application code (the
same functions the ZenML steps call): query, clean, chunk, embed, load. It also encodes the very same
chunk texts with a bare `model.encode` call (before and after the pipeline, averaged), and prints the
ratio of the pipeline's total to it (goal: at most 1.3), peak memory, and the time of an incremental
re-run (nothing to embed).

    poetry run python -m bench.feature_pipeline                  # CPU, settings' batch size
    poetry run python -m bench.feature_pipeline --batch-size 64 --device cuda
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HANDBOOK_WAREHOUSE = PROJECT_ROOT.parent / "shared" / "data" / "handbook" / "warehouse"
AUTHORS = ["Maxime Labonne", "Paul Iusztin"]

T = TypeVar("T")


def timed(timings: dict[str, float], name: str, function: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = function()
    timings[name] = time.perf_counter() - started
    return result


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run(batch_size: int | None, device: str | None) -> dict[str, Any]:
    from loguru import logger

    from llm_engineering import bootstrap
    from llm_engineering.application.preprocessing.chunking_data_handlers import text_to_embed
    from llm_engineering.application.preprocessing.feature_engineering import (
        chunk_documents,
        clean_documents,
        embed_chunks,
        query_warehouse,
    )
    from llm_engineering.application.preprocessing.feature_store import load_documents
    from llm_engineering.application.warehouse.backup import import_warehouse
    from llm_engineering.infrastructure.local.warehouse import embedded_warehouse
    from llm_engineering.settings import get_settings, load_settings

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    defaults = get_settings()
    batch = batch_size or defaults.EMBEDDING_BATCH_SIZE
    setup: dict[str, float] = {}
    stages: dict[str, float] = {}
    rerun: dict[str, float] = {}
    with embedded_warehouse() as uri, tempfile.TemporaryDirectory(prefix="bench-features-qdrant-") as qdrant_dir:
        settings = load_settings(
            DATABASE_HOST=uri,
            DATABASE_NAME=f"bench_{uuid.uuid4().hex[:8]}",
            DATABASE_TIMEOUT_S=10,
            QDRANT_LOCAL_PATH=Path(qdrant_dir) / "qdrant",
            EMBEDDING_BATCH_SIZE=batch,
            RAG_MODEL_DEVICE=device or defaults.RAG_MODEL_DEVICE,
        )
        container = bootstrap.configure(settings)
        bootstrap.use_embedding_threads(settings, "batch")  # as the pipeline's embedding step
        embedder = container.embedder()
        documents, index = container.documents(), container.vector_index()
        try:
            timed(setup, "import warehouse", lambda: import_warehouse(documents, HANDBOOK_WAREHOUSE))
            timed(setup, "load model", lambda: embedder.embed(["warm-up"]))

            # The floor: a bare encode of exactly the texts the pipeline embeds (chunked up front here, the
            # chunking is timed again below). It runs before and after the pipeline; the machine's load
            # drifts, and the mean of the two is the reference.
            # The backend's own encode loop: sentence-transformers' `model.encode`, or OpenVINO's `embed_array`.
            model = getattr(embedder, "model", None)
            probe = query_warehouse(documents, AUTHORS)
            texts = [
                text_to_embed(chunk)
                for chunk in chunk_documents(
                    None, clean_documents(probe.documents).documents, embedder, incremental=False
                )[0]
            ]

            def bare_encode() -> Any:
                if model is None:
                    return embedder.embed_array(texts, batch_size=batch)  # type: ignore[attr-defined]
                return model.encode(texts, batch_size=batch, normalize_embeddings=True)

            timed(setup, "bare encode before", bare_encode)
            snapshot = timed(stages, "query", lambda: query_warehouse(documents, AUTHORS))
            cleaned = timed(stages, "clean", lambda: clean_documents(snapshot.documents)).documents
            chunks, _ = timed(stages, "chunk", lambda: chunk_documents(None, cleaned, embedder, incremental=False))
            embedded, failed = timed(stages, "embed", lambda: embed_chunks(chunks, embedder, batch_size=batch))
            timed(stages, "load", lambda: (load_documents(index, cleaned), load_documents(index, embedded)))
            timed(setup, "bare encode after", bare_encode)
            assert texts == [text_to_embed(chunk) for chunk in chunks]

            # Incremental re-run: every document is unchanged, so nothing is chunked, embedded or loaded.
            again = timed(rerun, "query", lambda: query_warehouse(documents, AUTHORS))
            again_cleaned = timed(rerun, "clean", lambda: clean_documents(again.documents)).documents
            skipped = timed(
                rerun, "plan+chunk", lambda: chunk_documents(index, again_cleaned, embedder, incremental=True)
            )
        finally:
            bootstrap.reset()
    return {
        "documents": len(cleaned),
        "characters": sum(len(document.content) for document in cleaned),
        "chunks": len(chunks),
        "tokens": sum(chunk.metadata["token_count"] for chunk in chunks),
        "failed_documents": len(failed),
        "setup": setup,
        "stages": stages,
        "rerun": rerun,
        "rerun_skipped": len(skipped[1]),
        "rerun_chunks": len(skipped[0]),
        "batch_size": batch,
        "device": embedder.device,
        "peak_rss_mb": peak_rss_mb(),
    }


def report(figures: dict[str, Any]) -> None:
    import torch

    total = sum(figures["stages"].values())
    bare = (figures["setup"]["bare encode before"] + figures["setup"]["bare encode after"]) / 2
    print(f"device {figures['device']}, torch threads {torch.get_num_threads()}, batch size {figures['batch_size']}")
    print(
        f"documents {figures['documents']} ({figures['characters']:,} characters), chunks {figures['chunks']} "
        f"({figures['tokens']:,} tokens), failed documents {figures['failed_documents']}"
    )
    print("setup: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in figures["setup"].items()))
    print("pipeline stages (wall time):")
    for name, seconds in figures["stages"].items():
        print(f"  {name:<6} {seconds:8.2f} s  {seconds / total:6.1%}")
    print(f"  total  {total:8.2f} s   -> {figures['chunks'] / total:.1f} chunks/s end to end")
    print(
        f"bare model.encode of the same {figures['chunks']} chunk texts (mean of before/after): {bare:.2f} s "
        f"({figures['chunks'] / bare:.1f} chunks/s)"
    )
    print(f"ratio total / bare encode: {total / bare:.2f} (goal <= 1.3)")
    print(
        f"incremental re-run: {sum(figures['rerun'].values()):.2f} s "
        f"({figures['rerun_skipped']} documents unchanged, {figures['rerun_chunks']} chunks to embed)"
    )
    print(f"peak memory (max RSS): {figures['peak_rss_mb']:.0f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=None, help="encode batch size (default: settings)")
    parser.add_argument("--device", default=None, help="torch device (default: RAG_MODEL_DEVICE)")
    args = parser.parse_args()
    if not HANDBOOK_WAREHOUSE.is_dir():
        print(f"The book's warehouse backup is not beside the project ({HANDBOOK_WAREHOUSE} is absent).")
        return 1
    sys.path.insert(0, str(PROJECT_ROOT))
    report(run(args.batch_size, args.device))
    return 0


if __name__ == "__main__":
    sys.exit(main())
