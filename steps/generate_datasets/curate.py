"""Step: curate generated samples (rule filters, exact and near-duplicate removal, optional LLM judge)."""

from __future__ import annotations

from typing import Annotated, Any

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
    from llm_engineering import bootstrap
    from llm_engineering.application.datasets.sample_curation import curate_generated_samples, curation_options

    options = curation_options(samples, filters, near_duplicate_threshold, judge_min_score)
    # The container is built only when the judge needs its teacher: curation alone needs none of it.
    curated = curate_generated_samples(samples, options, use_judge, teacher=lambda: bootstrap.container().teacher())
    log_metadata(metadata=curated.metadata, infer_artifact=True)
    return curated.samples
