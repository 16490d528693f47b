"""The documented path for a user's own data: the ETL template, the poe tasks and the README's task table."""

from __future__ import annotations

import re
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


def _readme_task_table() -> set[str]:
    """Task names in the README's "Poe tasks" table; `a-up` / `-down` is shorthand for `a-down`."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Poe tasks", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        previous = ""
        for name in re.findall(r"`([^`]+)`", line.split("|")[1]):
            if name.startswith("-") and previous:
                name = previous.rsplit("-", 1)[0] + name
            names.add(name)
            previous = name
    return names


def test_readme_task_table_lists_every_poe_task_and_no_other():
    listed = _readme_task_table()
    tasks = set(_poe_tasks())
    assert sorted(tasks - listed) == [], "poe tasks missing from the README's table"
    assert sorted(listed - tasks) == [], "README lists poe tasks that do not exist"
