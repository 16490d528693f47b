"""Step: curate generated samples (rule filters, exact and near-duplicate removal, optional LLM judge)."""

from __future__ import annotations

from typing import Annotated, Any

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.domain.datasets import DatasetSamples


@step
def curate_dataset(
    samples: DatasetSamples,
    filters: dict[str, Any] | None = None,
    near_duplicate_threshold: float = 0.85,
    use_judge: bool = False,
    judge_min_score: int = 3,
) -> Annotated[DatasetSamples, "curated_samples"]:
    """The samples that pass curation, per category. `filters` overrides `FilterConfig` fields (e.g.
    `min_answer_chars`); `use_judge` scores samples 1-4 with the teacher (ignored without one).

    Metadata: per curation step, samples kept and removed by reason; `num_samples` before and after.
    """
    from dataclasses import replace

    from llm_engineering import bootstrap
    from llm_engineering.application.datasets.curation import FilterConfig
    from llm_engineering.application.datasets.judging import LLMQualityJudge
    from llm_engineering.application.datasets.service import CurationOptions, curate_samples

    # YAML gives lists; the filter's phrase sets are tuples (hashable, cached as regexes).
    overrides = {key: tuple(value) if isinstance(value, list) else value for key, value in (filters or {}).items()}
    options = CurationOptions(
        filters=replace(FilterConfig.for_dataset(samples.dataset_type), **overrides),
        near_duplicate_threshold=near_duplicate_threshold,
        judge_min_score=judge_min_score,
    )
    judge = None
    if use_judge:
        teacher = bootstrap.container().teacher()
        if teacher is None:
            logger.warning("use_judge is set but no teacher is configured (DATASET_GENERATOR_BASE_URL); no judge.")
        else:
            judge = LLMQualityJudge(teacher)
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
    log_metadata(
        metadata={
            "num_samples_in": samples.num_samples,
            "num_samples": len(kept),
            "num_samples_per_category": curated.counts(),
            "judge": judge is not None,
            "steps": steps,
        },
        infer_artifact=True,
    )
    return curated
