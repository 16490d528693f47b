"""The authors' ETL configs: valid YAML for the pipeline, the book's real links, nothing malformed."""

from __future__ import annotations

import json

import pytest
import yaml

from llm_engineering.application.crawlers.crawl_run import validate_link
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from tests.conftest import HANDBOOK_DIR, PROJECT_ROOT

CONFIGS = {
    "digital_data_etl_maxime_labonne.yaml": ("Maxime Labonne", 26, {"custom_article": 26}),
    "digital_data_etl_paul_iusztin.yaml": ("Paul Iusztin", 50, {"medium": 5, "custom_article": 45}),
}


def _parameters(filename: str) -> dict:
    return yaml.safe_load((PROJECT_ROOT / "configs" / filename).read_text(encoding="utf-8"))["parameters"]


@pytest.mark.parametrize("filename", sorted(CONFIGS))
def test_config_has_the_authors_links_routed_to_the_expected_crawlers(filename):
    name, count, crawlers = CONFIGS[filename]
    parameters = _parameters(filename)

    assert set(parameters) == {"user_full_name", "links", "crawler_routes"}
    assert parameters["user_full_name"] == name
    links = parameters["links"]
    assert len(links) == len(set(links)) == count
    assert all(validate_link(link) == link for link in links)
    dispatcher = CrawlerDispatcher.default().register_routes(parameters["crawler_routes"])
    routed: dict[str, int] = {}
    for link in links:
        crawler = dispatcher.crawler_class_for(link).name
        routed[crawler] = routed.get(crawler, 0) + 1
    assert routed == crawlers


@pytest.mark.parametrize("filename", sorted(CONFIGS))
def test_config_links_are_the_ones_of_the_books_warehouse(filename):
    backup = HANDBOOK_DIR / "warehouse" / "ArticleDocument.json"
    if not backup.is_file():
        pytest.skip(f"the book's warehouse backup is not beside the project ({backup} is absent)")
    name = CONFIGS[filename][0]
    articles = json.loads(backup.read_text(encoding="utf-8"))

    book_links = {article["link"] for article in articles if article["author_full_name"] == name}

    assert set(_parameters(filename)["links"]) == book_links
