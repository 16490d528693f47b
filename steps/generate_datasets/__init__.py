"""ZenML steps of dataset generation: feature store -> extracts -> samples -> curation -> split -> publish."""

from steps.generate_datasets.create_prompts import create_prompts
from steps.generate_datasets.curate import curate_dataset
from steps.generate_datasets.generate import generate_instruction_dataset, generate_preference_dataset
from steps.generate_datasets.publish import export_dataset, push_to_huggingface
from steps.generate_datasets.query_feature_store import query_feature_store
from steps.generate_datasets.split import split_instruction_dataset, split_preference_dataset

__all__ = [
    "create_prompts",
    "curate_dataset",
    "export_dataset",
    "generate_instruction_dataset",
    "generate_preference_dataset",
    "push_to_huggingface",
    "query_feature_store",
    "split_instruction_dataset",
    "split_preference_dataset",
]
