"""Step: cut the cleaned documents into sentence-aligned extracts, the unit every generator works on."""

from __future__ import annotations

from typing import Annotated

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.application.datasets.service import DatasetPrompts


@step
def create_prompts(
    documents: list,
    dataset_type: str = "instruction",
    generation_mode: str = "auto",
    extract_min_chars: int | None = None,
    extract_max_chars: int | None = None,
    max_extracts: int | None = None,
    seed: int = 42,
) -> Annotated[DatasetPrompts, "prompts"]:
    """The extracts to generate from, with the resolved mode (`auto`: teacher when configured, else offline).

    Metadata: `mode`, `num_extracts` (selected) and per category, and the extraction report (documents too
    short, oversized sentences split, characters covered).
    """
    from llm_engineering import bootstrap
    from llm_engineering.application.datasets.service import create_prompts as build_prompts
    from llm_engineering.application.datasets.service import resolve_mode
    from llm_engineering.domain.datasets import DatasetType

    settings = bootstrap.container().settings
    mode = resolve_mode(generation_mode, bootstrap.teacher_configured(settings))
    prompts = build_prompts(
        documents,
        DatasetType(dataset_type),
        mode,
        min_chars=extract_min_chars,
        max_chars=extract_max_chars,
        max_extracts=max_extracts,
        seed=seed,
    )
    logger.info("Generation mode: {} ({} extracts).", mode, len(prompts.spans))
    log_metadata(
        metadata={
            "mode": mode,
            "dataset_type": dataset_type,
            "num_extracts": len(prompts.spans),
            "num_extracts_per_category": prompts.counts(),
            "extraction": prompts.extraction,
        },
        infer_artifact=True,
    )
    return prompts
