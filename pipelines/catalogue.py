"""The project's pipeline catalogue: every ZenML pipeline by name, with its run config in `configs/`.

One list for everything that runs pipelines: `tools/run.py` (its flags map onto these names),
`tools/continuous_training.py` (its stages do) and the web UI's crawl jobs (the app gets the catalogue from
`tools/ml_service.py`). Importing this module imports no pipeline, and so no ZenML: `load()` does.
"""

from __future__ import annotations

from pathlib import Path

from llm_engineering.application.operations.pipeline_catalogue import CataloguedPipeline, PipelineCatalogue

CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"

# Order matters: when the CLI is given several flags, the pipelines run in this order.
CATALOGUE = PipelineCatalogue(
    CONFIGS_DIR,
    (
        CataloguedPipeline(
            "end_to_end_data",
            "pipelines.end_to_end_data",
            "end_to_end_data",
            "end_to_end_data.yaml",
            "Crawl, build features and generate datasets in one run.",
            uses_local_llm=True,
        ),
        CataloguedPipeline(
            "digital_data_etl",
            "pipelines.digital_data_etl",
            "digital_data_etl",
            # The template: a run names its own config (the CLI's --etl-config-filename, CT's etl_configs),
            # or fills in the template's parameters (the UI's crawl job).
            "digital_data_etl_template.yaml",
            "Crawl an author's links into the data warehouse.",
            summary=(("crawl_links", "crawled_links", ("summary",)),),
        ),
        CataloguedPipeline(
            "export_artifact_to_json",
            "pipelines.export_artifact_to_json",
            "export_artifact_to_json",
            "export_artifact_to_json.yaml",
            "Export ZenML artifacts to JSON files.",
        ),
        CataloguedPipeline(
            "feature_engineering",
            "pipelines.feature_engineering",
            "feature_engineering",
            "feature_engineering.yaml",
            "Clean, chunk and embed the warehouse into Qdrant.",
            author_parameter="author_full_names",
            summary=(
                ("query_data_warehouse", "raw_documents", ("num_documents",)),
                ("chunk_and_embed", "embedded_documents", ("num_documents_embedded", "num_chunks")),
            ),
        ),
        CataloguedPipeline(
            "generate_instruct_datasets",
            "pipelines.generate_datasets",
            "generate_datasets",
            "generate_instruct_datasets.yaml",
            "Generate the instruction dataset.",
            author_parameter="author_full_names",
            uses_local_llm=True,
        ),
        CataloguedPipeline(
            "generate_preference_datasets",
            "pipelines.generate_datasets",
            "generate_datasets",
            "generate_preference_datasets.yaml",
            "Generate the preference dataset.",
            author_parameter="author_full_names",
            uses_local_llm=True,
        ),
        CataloguedPipeline(
            "training", "pipelines.training", "training", "training.yaml", "Fine-tune the LLM (SFT/DPO)."
        ),
        CataloguedPipeline("evaluating", "pipelines.evaluating", "evaluating", "evaluating.yaml", "Evaluate the LLM."),
    ),
)
