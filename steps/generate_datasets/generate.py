"""Steps: generate instruct or preference samples from the extracts, with the teacher or offline."""

from __future__ import annotations

from typing import Annotated

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
    from llm_engineering.application.datasets.sample_generation import GenerationOptions, generate_samples

    container = bootstrap.container()
    options = GenerationOptions(
        max_workers=container.settings.DATASET_GENERATOR_MAX_WORKERS,
        context_tokens=container.settings.DATASET_GENERATOR_CONTEXT_TOKENS,
        samples_per_extract=samples_per_extract,
        max_llm_calls=max_llm_calls,
        llm_time_budget_s=llm_time_budget_s,
        seed=seed,
    )
    generated = generate_samples(prompts, options, teacher=container.teacher, local_llm=container.llm)
    log_metadata(metadata=generated.metadata(), infer_artifact=True)
    return generated.samples


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
