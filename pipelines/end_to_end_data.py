"""The data pipelines chained: crawl every author, build their features, then generate the datasets."""

from __future__ import annotations

from typing import Any

from zenml import pipeline

from pipelines.digital_data_etl import digital_data_etl
from pipelines.docker import PIPELINE_SETTINGS
from pipelines.feature_engineering import feature_engineering
from pipelines.generate_datasets import generate_datasets
from steps.alerts import notify_on_failure


@pipeline(on_failure=notify_on_failure, settings=PIPELINE_SETTINGS)
def end_to_end_data(
    author_links: list[dict[str, Any]],
    instruct_datasets: dict[str, Any] | None = None,
    preference_datasets: dict[str, Any] | None = None,
    crawler_routes: dict[str, str] | None = None,
) -> list[str]:
    """ETL per author -> feature pipeline for those authors -> instruct and preference datasets.

    - `author_links`: `[{"user_full_name": "...", "links": [...]}, ...]`, as in the ETL configs.
    - `instruct_datasets` / `preference_datasets`: parameters of `generate_datasets` for each dataset
      (`dataset_type` is set here); None skips that dataset.
    Each stage starts after the previous one (`wait_for` on its last steps' invocation ids).
    Returns the invocation ids of the dataset steps.
    """
    if not author_links:
        raise ValueError("author_links is empty: list at least one {user_full_name, links} entry.")
    etl_ids = []
    names = []
    for entry in author_links:
        name = str(entry.get("user_full_name") or "").strip()
        if not name:
            raise ValueError(f"author_links entry without user_full_name: {entry!r}")
        names.append(name)
        etl_ids.append(
            digital_data_etl(user_full_name=name, links=list(entry.get("links") or []), crawler_routes=crawler_routes)
        )
    feature_ids = feature_engineering(author_full_names=names, wait_for=etl_ids)
    dataset_ids = []
    for dataset_type, parameters in (("instruction", instruct_datasets), ("preference", preference_datasets)):
        if parameters is None:
            continue
        options = {**parameters, "dataset_type": dataset_type, "author_full_names": names}
        dataset_ids.append(generate_datasets(**options, wait_for=feature_ids))
    return dataset_ids
