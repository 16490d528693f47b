"""The dataset pipeline: cleaned documents in the feature store -> curated instruct or preference dataset."""

from __future__ import annotations

from typing import Any

from zenml import pipeline

from pipelines.docker import PIPELINE_SETTINGS
from steps import generate_datasets as ds_steps
from steps.alerts import notify_on_failure


@pipeline(on_failure=notify_on_failure, settings=PIPELINE_SETTINGS)
def generate_datasets(
    dataset_type: str = "instruction",
    test_split_size: float = 0.1,
    generation_mode: str = "auto",
    author_full_names: list[str] | None = None,
    samples_per_extract: int = 5,
    extract_min_chars: int | None = None,
    extract_max_chars: int | None = None,
    max_extracts: int | None = None,
    max_llm_calls: int | None = None,
    llm_time_budget_s: float | None = None,
    filters: dict[str, Any] | None = None,
    near_duplicate_threshold: float = 0.85,
    decontamination: dict[str, Any] | None = None,
    use_judge: bool = False,
    judge_min_score: int = 3,
    seed: int = 42,
    export_dir: str | None = None,
    export_formats: list[str] | None = None,
    push_to_huggingface: bool = False,
    dataset_id: str | None = None,
    wait_for: str | list[str] | None = None,
) -> str:
    """Generate, curate and split one dataset (`dataset_type`: instruction or preference).

    - `generation_mode`: `auto` (the teacher when DATASET_GENERATOR_BASE_URL is set, else offline),
      `teacher` or `offline` (back-translation with the local LLM; no teacher needed).
    - `max_extracts`, `max_llm_calls`, `llm_time_budget_s`: budgets for slow (CPU) models.
    - `filters`, `near_duplicate_threshold`, `decontamination`, `use_judge`: curation (see configs/).
    - `export_dir`: also write JSONL (and `export_formats`, e.g. parquet) there; `push_to_huggingface`
      with `dataset_id` pushes the split to the Hub (needs HUGGINGFACE_ACCESS_TOKEN).
    - `wait_for`: invocation ids of steps (e.g. the feature pipeline's) to run after.
    Returns the invocation id of the split step, for pipelines that chain after this one.
    """
    if dataset_type not in ("instruction", "preference"):
        raise ValueError(f"dataset_type must be `instruction` or `preference`, not {dataset_type!r}.")
    if push_to_huggingface and not dataset_id:
        raise ValueError("push_to_huggingface needs a dataset_id (e.g. `your-user/llmtwin`).")
    documents = ds_steps.query_feature_store(author_full_names, after=wait_for)
    prompts = ds_steps.create_prompts(
        documents,
        dataset_type=dataset_type,
        generation_mode=generation_mode,
        extract_min_chars=extract_min_chars,
        extract_max_chars=extract_max_chars,
        max_extracts=max_extracts,
        seed=seed,
    )
    budgets = {"max_llm_calls": max_llm_calls, "llm_time_budget_s": llm_time_budget_s, "seed": seed}
    if dataset_type == "instruction":
        generated = ds_steps.generate_instruction_dataset(prompts, samples_per_extract=samples_per_extract, **budgets)
    else:
        generated = ds_steps.generate_preference_dataset(prompts, samples_per_extract=samples_per_extract, **budgets)
    curated = ds_steps.curate_dataset(
        generated,
        filters=filters,
        near_duplicate_threshold=near_duplicate_threshold,
        use_judge=use_judge,
        judge_min_score=judge_min_score,
    )
    split_step = (
        ds_steps.split_instruction_dataset if dataset_type == "instruction" else ds_steps.split_preference_dataset
    )
    dataset = split_step(curated, test_split_size=test_split_size, seed=seed, decontamination=decontamination)
    if export_dir:
        ds_steps.export_dataset(dataset, output_dir=export_dir, formats=export_formats)
    if push_to_huggingface:
        ds_steps.push_to_huggingface(dataset, dataset_id=dataset_id)
    return dataset.invocation_id
