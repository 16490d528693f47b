"""The generation stage of a dataset run: the samples of one `DatasetPrompts`, written by the teacher or offline.

The `generate_*_dataset` steps call `generate_samples` with the models the container builds and log
`GeneratedSamples.metadata()`; the choice of generator, the offline fallback to templates and the summary
live here, where a fake LLM can stand in for both models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loguru import logger

from llm_engineering.application.datasets.generation import (
    BackTranslationGenerator,
    GenerationReport,
    LLMBudget,
    TeacherGenerator,
)
from llm_engineering.application.datasets.service import DatasetPrompts
from llm_engineering.application.errors import DatasetGenerationError, LLMError
from llm_engineering.application.llm.client import LLMClient
from llm_engineering.domain.datasets import DatasetSamples


@dataclass(frozen=True)
class GenerationOptions:
    """How much to generate: teacher samples per extract and its parallelism (`DATASET_GENERATOR_*`), and the
    offline run's budget of local-LLM calls and seconds (None: no limit)."""

    max_workers: int = 4
    context_tokens: int = 16384
    samples_per_extract: int = 5
    max_llm_calls: int | None = None
    llm_time_budget_s: float | None = None
    seed: int = 42


@dataclass(frozen=True)
class GeneratedSamples:
    """The generated samples per category and the generator's report."""

    samples: DatasetSamples
    report: GenerationReport

    def metadata(self) -> dict[str, Any]:
        """What the step logs: the report's figures and the samples per category."""
        return {**self.report.as_metadata(), "num_samples_per_category": self.samples.counts()}


def generate_samples(
    prompts: DatasetPrompts,
    options: GenerationOptions,
    teacher: Callable[[], LLMClient | None],
    local_llm: Callable[[], LLMClient],
) -> GeneratedSamples:
    """Samples of `prompts.dataset_type` from the prompts' extracts, in extract order.

    `prompts.mode` picks the writer: `teacher` asks `teacher()` (which must return a client: `create_prompts`
    resolved that mode only with one configured); `offline` back-translates with `local_llm()`, or with
    templates alone when that model does not answer a ping. Each provider is called only in its mode.
    Raises DatasetGenerationError for a teacher-mode run without a teacher.
    """
    extracts = prompts.extracts()
    if prompts.mode == "teacher":
        llm = teacher()
        if llm is None:
            raise DatasetGenerationError(
                "The prompts were made for the teacher, but no teacher is configured (DATASET_GENERATOR_BASE_URL)."
            )
        generator = TeacherGenerator(
            llm,
            prompts.dataset_type,
            samples_per_extract=options.samples_per_extract,
            max_workers=options.max_workers,
            context_tokens=options.context_tokens,
        )
        samples, report = generator.generate(extracts)
    else:
        local: LLMClient | None = local_llm()
        try:
            local.ping()  # type: ignore[union-attr]
        except LLMError as error:
            logger.warning("The local LLM is not reachable ({}); instructions will come from templates.", error)
            local = None
        budget = LLMBudget(max_calls=options.max_llm_calls, max_seconds=options.llm_time_budget_s)
        samples, report = BackTranslationGenerator(
            local, prompts.dataset_type, budget=budget, seed=options.seed
        ).generate(extracts)
    categories = {record.id: record.category for record in prompts.documents}
    result = DatasetSamples.from_samples(prompts.dataset_type, samples, categories)
    logger.info(
        "Generated {} {} samples from {} extracts ({} requests, failures: {}).",
        report.samples,
        prompts.dataset_type,
        report.extracts,
        report.requests,
        dict(report.failures) or "none",
    )
    return GeneratedSamples(samples=result, report=report)
