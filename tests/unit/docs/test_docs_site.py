"""The README as a front door and docs/ as the manual, read as text: what `mkdocs build --strict` cannot see.

The README stays short and its links (outside docs/, so the build does not read them) reach existing files and
headings; every page of docs/ is in the nav and every nav entry exists; every `poe` task the README or a page
names exists, and the task map does not grow back into a copy of `poe --help`.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
import unicodedata
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
_CODE_SPAN = re.compile(r"`([^`]+)`")
_POE_TASK = re.compile(r"\bpoe\s+([a-z][a-z0-9-]*)")


class _MkDocsLoader(yaml.SafeLoader):
    """mkdocs.yml names Python objects (`!!python/name:...`); the test needs only the nav."""


_MkDocsLoader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def _poe_tasks() -> set[str]:
    return set(tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["poe"]["tasks"])


def _without_code(text: str) -> str:
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def _slug(heading: str) -> str:
    """Python-Markdown's heading id (what MkDocs uses)."""
    value = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def _github_slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _headings(path: Path) -> list[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    return [match.group(1) for match in re.finditer(r"^#{1,6} (.+)$", text, re.MULTILINE)]


def _nav_files(nav: list) -> list[str]:
    files: list[str] = []
    for entry in nav:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            files.extend(_nav_files(value) if isinstance(value, list) else [value])
    return files


def test_readme_is_a_front_door_of_at_most_200_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: move the detail to a page of docs/"


@pytest.mark.parametrize("path", [README, *PAGES], ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_relative_links_reach_a_file_and_a_heading_that_github_and_mkdocs_agree_on(path: Path):
    problems = []
    for match in _LINK.finditer(_without_code(path.read_text(encoding="utf-8"))):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            problems.append(f"{target}: no such file")
            continue
        if anchor and linked.suffix == ".md":
            headings = _headings(linked)
            if anchor not in {_slug(heading) for heading in headings}:
                problems.append(f"{target}: no such heading")
            elif anchor not in {_github_slug(heading) for heading in headings}:
                problems.append(f"{target}: GitHub names this heading differently; reword it")
    assert problems == []


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    config = yaml.load((PROJECT_ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_MkDocsLoader)
    in_nav = _nav_files(config["nav"])
    pages = {str(page.relative_to(DOCS)) for page in PAGES}
    assert sorted(pages - set(in_nav)) == [], "pages missing from the nav of mkdocs.yml"
    assert sorted(set(in_nav) - pages) == [], "nav entries without a page"
    assert len(in_nav) == len(set(in_nav)), "a page is in the nav twice"


def test_every_poe_task_the_readme_and_the_pages_name_exists():
    tasks = _poe_tasks()
    named = set()
    for path in [README, *PAGES]:
        text = path.read_text(encoding="utf-8")
        code = [block.group(0) for block in _FENCE.finditer(text)] + _CODE_SPAN.findall(_FENCE.sub("", text))
        named |= {(path.name, task) for snippet in code for task in _POE_TASK.findall(snippet)}
    assert named, "no page names a poe task"
    assert sorted(f"{page}: poe {task}" for page, task in named if task not in tasks) == []


def test_the_task_map_names_real_tasks_and_leaves_the_full_list_to_poe_help():
    page = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    section = page.split("## Everyday tasks", 1)[1].split("\n## ", 1)[0]
    assert "poe --help" in section
    tasks = _poe_tasks()
    listed = [
        name
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| stage")
        for name in _CODE_SPAN.findall(line.split("|")[2])
    ]
    assert listed
    unknown = [name for name in listed if not fnmatch.filter(tasks, name)]
    assert unknown == [], "the task map names tasks that do not exist"
    assert len(listed) < len(tasks) / 2, "the task map is turning into a copy of `poe --help`"


def test_every_poe_task_has_help_so_that_poe_help_is_the_list():
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    without_help = [name for name, task in pyproject["tool"]["poe"]["tasks"].items() if not task.get("help")]
    assert without_help == []
