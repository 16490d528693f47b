"""The pipeline catalogue's shape (`application/operations/pipeline_catalogue.py`) on a catalogue of its own:
names in order, config files in a folder, a clear error for an unknown name, lazy loading."""

from __future__ import annotations

import json

import pytest
import yaml

from llm_engineering.application.errors import UnknownPipelineError
from llm_engineering.application.operations.pipeline_catalogue import CataloguedPipeline, PipelineCatalogue
from llm_engineering.domain.exceptions import LLMTwinError


@pytest.fixture
def catalogue(tmp_path) -> PipelineCatalogue:
    (tmp_path / "crawl.yaml").write_text(yaml.safe_dump({"parameters": {"links": ["https://a.example"]}}))
    (tmp_path / "bare.yaml").write_text("settings: {}\n")
    return PipelineCatalogue(
        tmp_path,
        (
            CataloguedPipeline("crawl", "json", "dumps", "crawl.yaml", "Crawl.", author_parameter="authors"),
            CataloguedPipeline("bare", "json", "loads", "bare.yaml", uses_local_llm=True),
        ),
    )


def test_pipelines_keep_their_order_and_are_found_by_name(catalogue):
    assert catalogue.names() == ["crawl", "bare"]
    assert [pipeline.name for pipeline in catalogue] == ["crawl", "bare"]
    assert len(catalogue) == 2 and "crawl" in catalogue and "other" not in catalogue
    assert catalogue["crawl"].author_parameter == "authors" and not catalogue["crawl"].uses_local_llm
    assert catalogue["bare"].uses_local_llm and catalogue["bare"].author_parameter is None


def test_an_unknown_name_is_a_project_error_listing_the_known_ones(catalogue):
    with pytest.raises(UnknownPipelineError) as raised:
        catalogue["crawl_everything"]
    assert isinstance(raised.value, LLMTwinError) and isinstance(raised.value, KeyError)
    assert str(raised.value) == "no pipeline 'crawl_everything' in the catalogue (known: crawl, bare)"


def test_a_name_listed_twice_is_refused(tmp_path):
    twice = [CataloguedPipeline("crawl", "json", "dumps", "a.yaml"), CataloguedPipeline("crawl", "json", "x", "b.yaml")]
    with pytest.raises(ValueError, match="lists 'crawl' twice"):
        PipelineCatalogue(tmp_path, twice)


def test_config_paths_are_in_the_catalogues_folder_unless_another_is_given(catalogue, tmp_path):
    assert catalogue.config_path("crawl") == tmp_path / "crawl.yaml"
    assert catalogue.config_path("crawl", tmp_path / "mine") == tmp_path / "mine" / "crawl.yaml"


def test_parameters_are_the_configs_parameters_mapping(catalogue):
    assert catalogue.parameters("crawl") == {"links": ["https://a.example"]}
    assert catalogue.parameters("bare") == {}


def test_loading_imports_the_module_and_availability_imports_nothing():
    assert CataloguedPipeline("dump", "json", "dumps", "x.yaml").load() is json.dumps
    assert CataloguedPipeline("dump", "json", "dumps", "x.yaml").available()
    assert not CataloguedPipeline("gone", "no_such_package.pipeline", "gone", "x.yaml").available()
    assert not CataloguedPipeline("gone", "json.no_such_module", "gone", "x.yaml").available()
