"""The curation stage of a dataset run: generated samples through the rule filters, duplicate removal and,
when asked and a teacher is configured, the LLM quality judge.

The `curate_dataset` step calls `curate_generated_samples` and logs `CuratedSamples.metadata`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from loguru import logger

from llm_engineering.application.datasets.curation import FilterConfig
from llm_engineering.application.datasets.judging import LLMQualityJudge
from llm_engineering.application.datasets.service import CurationOptions, curate_samples
from llm_engineering.application.llm.client import LLMClient
from llm_engineering.domain.datasets import DatasetSamples


@dataclass(frozen=True)
class CuratedSamples:
    """The samples that passed, per category, and what the step logs about them."""

    samples: DatasetSamples
    metadata: dict[str, Any]


def curation_options(
    samples: DatasetSamples,
    filters: Mapping[str, Any] | None = None,
    near_duplicate_threshold: float = 0.85,
    judge_min_score: int = 3,
) -> CurationOptions:
    """The dataset type's `FilterConfig` with `filters` over its fields (YAML lists become the tuples the
    phrase sets are), and the thresholds."""
    # YAML gives lists; the filter's phrase sets are tuples (hashable, cached as regexes).
    overrides = {key: tuple(value) if isinstance(value, list) else value for key, value in (filters or {}).items()}
    return CurationOptions(
        filters=replace(FilterConfig.for_dataset(samples.dataset_type), **overrides),
        near_duplicate_threshold=near_duplicate_threshold,
        judge_min_score=judge_min_score,
    )


def curate_generated_samples(
    samples: DatasetSamples,
    options: CurationOptions,
    use_judge: bool = False,
    teacher: Callable[[], LLMClient | None] = lambda: None,
) -> CuratedSamples:
    """The samples that pass curation, each kept in its category.

    With `use_judge`, `teacher()` is asked for the model that scores samples 1-4; without one the judge is
    skipped with a warning. The metadata holds `num_samples_in`, `num_samples`, `num_samples_per_category`,
    `judge` (whether one ran) and `steps` (kept and removed by reason, per curation step).
    """
    judge = None
    if use_judge:
        llm = teacher()
        if llm is None:
            logger.warning("use_judge is set but no teacher is configured (DATASET_GENERATOR_BASE_URL); no judge.")
        else:
            judge = LLMQualityJudge(llm)
    kept, reports = curate_samples(samples.all(), options, judge)
    category_of = {
        sample.document_id: category
        for category, dataset in samples.categories.items()
        for sample in dataset.samples
        if sample.document_id
    }
    curated = DatasetSamples.from_samples(samples.dataset_type, kept, category_of)
    steps = {report.name: report.as_metadata() for report in reports}
    logger.info("Curation kept {} of {} samples: {}.", len(kept), samples.num_samples, steps)
    metadata = {
        "num_samples_in": samples.num_samples,
        "num_samples": len(kept),
        "num_samples_per_category": curated.counts(),
        "judge": judge is not None,
        "steps": steps,
    }
    return CuratedSamples(samples=curated, metadata=metadata)
