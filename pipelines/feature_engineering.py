"""The feature pipeline: warehouse documents -> cleaned documents and embedded chunks in the feature store."""

from __future__ import annotations

from zenml import pipeline

from pipelines.docker import PIPELINE_SETTINGS
from steps import feature_engineering as fe_steps
from steps.alerts import notify_on_failure


@pipeline(on_failure=notify_on_failure, settings=PIPELINE_SETTINGS)
def feature_engineering(
    author_full_names: list[str] | None = None,
    prune_deleted: bool = False,
    incremental: bool = True,
    load_batch_size: int = 256,
    wait_for: str | list[str] | None = None,
) -> list[str]:
    """Clean, chunk and embed the authors' documents and load both snapshots into Qdrant.

    - `author_full_names`: the authors to process; None or empty means every author in the warehouse.
    - `prune_deleted`: also delete features of the authors' documents no longer in the warehouse.
    - `incremental`: skip documents whose content, chunking and model are unchanged since the last run.
    - `wait_for`: invocation ids of steps (e.g. ETL runs) that must finish before the warehouse is read.
    Returns the invocation ids of the final steps, for pipelines that chain after this one.
    """
    raw_documents = fe_steps.query_data_warehouse(author_full_names, after=wait_for)
    cleaned_documents = fe_steps.clean_documents(raw_documents)
    last_step_1 = fe_steps.load_to_vector_db(cleaned_documents, batch_size=load_batch_size, id="load_cleaned_documents")
    embedded_documents = fe_steps.chunk_and_embed(cleaned_documents, incremental=incremental)
    last_step_2 = fe_steps.load_to_vector_db(embedded_documents, batch_size=load_batch_size, id="load_embedded_chunks")
    invocation_ids = [last_step_1.invocation_id, last_step_2.invocation_id]
    if prune_deleted:
        pruned = fe_steps.prune_vector_db(author_full_names, after=invocation_ids)
        invocation_ids.append(pruned.invocation_id)
    return invocation_ids
