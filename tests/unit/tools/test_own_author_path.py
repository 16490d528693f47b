"""The documented path for a user's own data: the ETL template and the poe tasks (the pages that name tasks are
checked in tests/unit/docs/)."""

from __future__ import annotations

import tomllib

import yaml

from llm_engineering.application.crawlers.crawl_run import validate_link
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from tests.conftest import PROJECT_ROOT


def _poe_tasks() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["poe"]["tasks"]


def test_etl_template_is_a_valid_config_with_a_link_of_each_kind():
    config = yaml.safe_load((PROJECT_ROOT / "configs" / "digital_data_etl_template.yaml").read_text(encoding="utf-8"))
    parameters = config["parameters"]

    assert set(parameters) == {"user_full_name", "links", "crawler_routes"}
    assert len(parameters["user_full_name"].split()) >= 2
    dispatcher = CrawlerDispatcher.default().register_routes(parameters["crawler_routes"])
    crawlers = {dispatcher.crawler_class_for(validate_link(link)).name for link in parameters["links"]}
    assert {"custom_article", "medium", "github"} <= crawlers


def test_own_author_poe_tasks_take_the_config_as_an_argument():
    tasks = _poe_tasks()
    for name, flags in (
        ("run-digital-data-etl-own", "--run-etl"),
        ("run-etl-and-features-own", "--run-etl --run-feature-engineering"),
    ):
        task = tasks[name]
        assert task["cmd"].startswith(f"python -m tools.run {flags} ")
        assert '--etl-config-filename "${config}"' in task["cmd"]
        [argument] = task["args"]
        assert argument["name"] == "config" and argument["options"] == ["--config"]
        assert argument["default"] == "${ETL_CONFIG}"
        assert task["env"]["ETL_CONFIG"]["default"] == "configs/my_author.yaml"
    assert "--import-handbook" in tasks["run-import-handbook-warehouse"]["cmd"]
    assert "../shared" not in tasks["run-import-handbook-warehouse"]["cmd"]  # a setting, not a hard-coded path
    assert "--authors" in tasks["run-feature-engineering-pipeline"]["cmd"]
