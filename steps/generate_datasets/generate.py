"""Steps: generate instruct or preference samples from the extracts, with the teacher or offline."""

from __future__ import annotations

from typing import Annotated

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.application.datasets.service import DatasetPrompts
from llm_engineering.domain.datasets import DatasetSamples


def _generate(
    prompts: DatasetPrompts,
    samples_per_extract: int,
    max_llm_calls: int | None,
    llm_time_budget_s: float | None,
    seed: int,
) -> DatasetSamples:
    from llm_engineering import bootstrap
    from llm_engineering.application.datasets.generation import (
        BackTranslationGenerator,
        LLMBudget,
        TeacherGenerator,
    )
    from llm_engineering.application.errors import LLMError

    container = bootstrap.container()
    settings = container.settings
    extracts = prompts.extracts()
    if prompts.mode == "teacher":
        teacher = container.teacher()
        assert teacher is not None  # create_prompts resolved `teacher` only with one configured
        generator = TeacherGenerator(
            teacher,
            prompts.dataset_type,
            samples_per_extract=samples_per_extract,
            max_workers=settings.DATASET_GENERATOR_MAX_WORKERS,
            context_tokens=settings.DATASET_GENERATOR_CONTEXT_TOKENS,
        )
        samples, report = generator.generate(extracts)
    else:
        llm = container.llm()
        try:
            llm.ping()
        except LLMError as error:
            logger.warning("The local LLM is not reachable ({}); instructions will come from templates.", error)
            llm = None
        budget = LLMBudget(max_calls=max_llm_calls, max_seconds=llm_time_budget_s)
        samples, report = BackTranslationGenerator(llm, prompts.dataset_type, budget=budget, seed=seed).generate(
            extracts
        )
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
    log_metadata(
        metadata={**report.as_metadata(), "num_samples_per_category": result.counts()},
        infer_artifact=True,
    )
    return result


@step
def generate_instruction_dataset(
    prompts: DatasetPrompts,
    samples_per_extract: int = 5,
    max_llm_calls: int | None = None,
    llm_time_budget_s: float | None = None,
    seed: int = 42,
) -> Annotated[DatasetSamples, "generated_samples"]:
    """Instruction/answer pairs: teacher pairs, or offline back-translation (the author's text as answer).

    Metadata: mode, model id, requests, samples, failures by reason, instruction sources, samples/s.
    """
    return _generate(prompts, samples_per_extract, max_llm_calls, llm_time_budget_s, seed)


@step
def generate_preference_dataset(
    prompts: DatasetPrompts,
    samples_per_extract: int = 5,
    max_llm_calls: int | None = None,
    llm_time_budget_s: float | None = None,
    seed: int = 42,
) -> Annotated[DatasetSamples, "generated_samples"]:
    """Preference triples: chosen = the author's words, rejected = the teacher's (or the local model's) answer.

    Metadata as for the instruction step.
    """
    return _generate(prompts, samples_per_extract, max_llm_calls, llm_time_budget_s, seed)
