"""Dataset generation on the book's corpus (76 articles): throughput, instruction sources, curation counts.

Starts a real nx-27017 warehouse on a free port and Qdrant local mode in a temporary folder, imports
`../shared/data/handbook/warehouse`, cleans the articles into the `cleaned_*` collections (what the
feature pipeline stores), then runs the dataset use case the ZenML steps call: extracts, generation,
curation, split by document. Offline mode uses the configured local LLM (poe local-llm-up) within the
given call budget and templates beyond it; with a teacher configured (DATASET_GENERATOR_BASE_URL) it also
runs the teacher on `--teacher-extracts` extracts.

    poetry run python -m bench.datasets                          # offline, 40 model calls for instructions
    poetry run python -m bench.datasets --llm-calls 0             # templates only (no LLM needed)
    poetry run python -m bench.datasets --preference-extracts 10  # also 10 offline preference samples
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HANDBOOK_WAREHOUSE = PROJECT_ROOT.parent / "shared" / "data" / "handbook" / "warehouse"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def generate(container: Any, documents: list, dataset_type: Any, mode: str, limit: int | None, calls: int) -> dict:
    """One dataset run (prompts -> samples -> curation -> split) and its figures."""
    from llm_engineering.application.datasets.curation import FilterConfig
    from llm_engineering.application.datasets.generation import BackTranslationGenerator, LLMBudget, TeacherGenerator
    from llm_engineering.application.datasets.service import (
        CurationOptions,
        create_prompts,
        curate_samples,
        split_dataset,
    )
    from llm_engineering.application.errors import LLMError
    from llm_engineering.domain.datasets import DatasetSamples

    started = time.perf_counter()
    prompts = create_prompts(documents, dataset_type, mode, max_extracts=limit)
    extracts = prompts.extracts()
    prompt_s = time.perf_counter() - started
    if mode == "teacher":
        generator: Any = TeacherGenerator(container.teacher(), dataset_type, progress=False)
    else:
        llm = container.llm()
        try:
            llm.ping()
        except LLMError:
            llm = None
        generator = BackTranslationGenerator(llm, dataset_type, budget=LLMBudget(max_calls=calls), progress=False)
    samples, report = generator.generate(extracts)
    grouped = DatasetSamples.from_samples(dataset_type, samples, {d.id: d.category for d in prompts.documents})
    options = CurationOptions(filters=FilterConfig.for_dataset(dataset_type))
    started_curation = time.perf_counter()
    kept, steps = curate_samples(grouped.all(), options)
    kept_by_category = DatasetSamples.from_samples(dataset_type, kept, {d.id: d.category for d in prompts.documents})
    test_size = 0.1 if str(dataset_type) == "instruction" else 0.05
    split, split_report, decontamination = split_dataset(
        dataset_type, {c: d.samples for c, d in kept_by_category.categories.items()}, test_size, options
    )
    curation_s = time.perf_counter() - started_curation
    sources = Counter(report.instruction_sources)
    return {
        "mode": mode,
        "dataset_type": str(dataset_type),
        "extracts": prompts.extraction,
        "generation": report.as_metadata(),
        "instruction_share_model": round(sources["model"] / max(sum(sources.values()), 1), 3),
        "curation": {step.name: step.as_metadata() for step in [*steps, decontamination]},
        "split": {"counts": split.counts(), **split_report.as_metadata(), "shared": len(split.shared_documents())},
        "seconds": {"prompts": round(prompt_s, 2), "curation_and_split": round(curation_s, 2)},
        "examples": [s.model_dump(mode="json", include={"instruction", "answer", "rejected"}) for s in kept[:3]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm-calls", type=int, default=40, help="local-model calls for instructions (offline)")
    parser.add_argument("--preference-extracts", type=int, default=0, help="offline preference samples to try")
    parser.add_argument("--teacher-extracts", type=int, default=20, help="extracts for the teacher (if configured)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args()
    if not HANDBOOK_WAREHOUSE.is_dir():
        sys.exit(f"The book's warehouse backup is not at {HANDBOOK_WAREHOUSE}.")

    from loguru import logger

    from llm_engineering import bootstrap
    from llm_engineering.application.datasets.service import query_cleaned_documents
    from llm_engineering.application.preprocessing.feature_engineering import clean_documents, query_warehouse
    from llm_engineering.application.preprocessing.feature_store import CLEANED_CLASSES, load_documents
    from llm_engineering.application.warehouse.backup import import_warehouse
    from llm_engineering.domain.datasets import DatasetType
    from llm_engineering.infrastructure.local.warehouse import embedded_warehouse
    from llm_engineering.settings import load_settings

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    results: dict[str, Any] = {}
    with embedded_warehouse() as uri, tempfile.TemporaryDirectory(prefix="bench-datasets-qdrant-") as qdrant_dir:
        settings = load_settings(
            DATABASE_HOST=uri,
            DATABASE_NAME=f"bench_{uuid.uuid4().hex[:8]}",
            QDRANT_LOCAL_PATH=Path(qdrant_dir) / "qdrant",
        )
        container = bootstrap.configure(settings)
        try:
            index = container.vector_index()
            import_warehouse(container.documents(), HANDBOOK_WAREHOUSE)
            load_documents(index, clean_documents(query_warehouse(container.documents(), None).documents).documents)
            documents, found = query_cleaned_documents(index, None, CLEANED_CLASSES.values())
            results["documents"] = found["num_documents"]
            results["offline_instruction"] = generate(
                container, documents, DatasetType.INSTRUCTION, "offline", None, args.llm_calls
            )
            if args.preference_extracts:
                results["offline_preference"] = generate(
                    container, documents, DatasetType.PREFERENCE, "offline", args.preference_extracts, 10**6
                )
            if bootstrap.teacher_configured(settings) and args.teacher_extracts:
                results["teacher_instruction"] = generate(
                    container, documents, DatasetType.INSTRUCTION, "teacher", args.teacher_extracts, 0
                )
        finally:
            bootstrap.reset()
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"documents: {results['documents']}   peak RSS: {results['peak_rss_mb']} MB")
    for name, run in results.items():
        if not isinstance(run, dict):
            continue
        generation = run["generation"]
        print(f"\n== {name} (model: {generation['model_id']})")
        print(
            f"extracts: {run['extracts']['selected_extracts']} of {run['extracts']['extracts']} "
            f"({run['extracts']['min_chars']}-{run['extracts']['max_chars']} chars)"
        )
        print(
            f"samples: {generation['num_samples']} in {generation['seconds']} s "
            f"({generation['samples_per_s']} samples/s, {generation['num_requests']} model calls)"
        )
        print(
            f"instructions written by the model: {run['instruction_share_model']:.1%}   "
            f"sources: {generation['instruction_sources']}"
        )
        print(f"failures: {generation['failures']}")
        for step, figures in run["curation"].items():
            print(f"  {step:16} kept {figures['kept']:5}  removed {figures.get('removed', {})}")
        print(
            f"split: {run['split']['counts']}  documents: {run['split']['documents']}  shared: {run['split']['shared']}"
        )
        for example in run["examples"][:2]:
            print(f"  e.g. {json.dumps(example)[:300]}")


if __name__ == "__main__":
    main()
