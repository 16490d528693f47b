"""The shipped dataset configs name only real pipeline parameters, and end_to_end_data crawls the same
links as the per-author ETL configs."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import yaml

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def _parameters(name: str) -> dict:
    return yaml.safe_load((CONFIGS / name).read_text())["parameters"]


def _signature(pipeline) -> set[str]:
    return set(inspect.signature(pipeline.entrypoint).parameters)


@pytest.mark.parametrize(
    ("config", "dataset_type"),
    [("generate_instruct_datasets.yaml", "instruction"), ("generate_preference_datasets.yaml", "preference")],
)
def test_dataset_configs_use_only_pipeline_parameters(config, dataset_type):
    from llm_engineering.application.datasets.curation import FilterConfig
    from pipelines.generate_datasets import generate_datasets

    parameters = _parameters(config)
    assert set(parameters) <= _signature(generate_datasets)
    assert parameters["dataset_type"] == dataset_type
    assert set(parameters.get("filters") or {}) <= set(FilterConfig.__dataclass_fields__)
    assert not parameters["push_to_huggingface"]


def test_end_to_end_config_matches_the_author_configs_and_the_dataset_pipeline():
    from pipelines.end_to_end_data import end_to_end_data
    from pipelines.generate_datasets import generate_datasets

    parameters = _parameters("end_to_end_data.yaml")
    assert set(parameters) <= _signature(end_to_end_data)
    by_author = {entry["user_full_name"]: entry["links"] for entry in parameters["author_links"]}
    for etl_config in ("digital_data_etl_paul_iusztin.yaml", "digital_data_etl_maxime_labonne.yaml"):
        etl = _parameters(etl_config)
        assert by_author[etl["user_full_name"]] == etl["links"], etl_config
    for block in ("instruct_datasets", "preference_datasets"):
        assert set(parameters[block]) <= _signature(generate_datasets) - {"dataset_type", "author_full_names"}
