"""ZenML steps of the training pipeline: datasets -> SFT -> DPO -> held-out evaluation -> registry."""

from steps.training.evaluate import evaluate_heldout
from steps.training.load_datasets import load_dataset_file, mix_instruct_datasets
from steps.training.register import register_model
from steps.training.retrieval_aware import retrieval_aware_datasets
from steps.training.train import train_dpo, train_sft

__all__ = [
    "evaluate_heldout",
    "load_dataset_file",
    "mix_instruct_datasets",
    "register_model",
    "retrieval_aware_datasets",
    "train_dpo",
    "train_sft",
]
