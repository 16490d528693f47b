"""Which repository files the GitHub crawler keeps, and how it names repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.application.crawlers.github import collect_tree, repository_name, skip_reason
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.exceptions import CrawlError


@pytest.mark.parametrize(
    ("link", "name"),
    [
        ("https://github.com/PacktPublishing/LLM-Engineers-Handbook", "LLM-Engineers-Handbook"),
        ("https://github.com/org/repo.git/", "repo"),
        ("file:///srv/git/twin-demo", "twin-demo"),
        ("/srv/git/twin-demo.git", "twin-demo"),
    ],
)
def test_repository_name(link, name):
    assert repository_name(link) == name


@pytest.mark.parametrize(
    ("path", "size", "reason"),
    [
        ("poetry.lock", 10, "lock"),
        ("web/package-lock.json", 10, "lock"),
        ("Cargo.lock", 10, "lock"),
        ("assets/logo.PNG", 10, "binary"),
        ("model.safetensors", 10, "binary"),
        ("notes.txt", 2_000, "too_large"),
        ("src/app.py", 10, None),
        ("Dockerfile", 10, None),
    ],
)
def test_skip_reason(path, size, reason):
    assert skip_reason(Path(path), size, max_file_bytes=1_000) == reason


def test_collect_tree_keeps_text_exactly_and_prunes_vendored_and_binary_files(tmp_path):
    files = {
        "src/app.py": "def f():\n\treturn  'ü 🚀'\n",
        "node_modules/x/index.js": "vendored",
        ".git/config": "[core]",
        "data.bin": "a\x00b",
        "latin1.txt": None,
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            path.write_bytes("caf\xe9".encode("latin-1"))  # not UTF-8: treated as binary
        else:
            path.write_text(text, encoding="utf-8")
    (tmp_path / "link.py").symlink_to(tmp_path / "src" / "app.py")

    tree = collect_tree(tmp_path, max_file_bytes=1_000, max_total_bytes=10_000)

    assert tree.files == {"src/app.py": "def f():\n\treturn  'ü 🚀'\n"}
    assert tree.skipped["vendored_or_tooling"] == 2 and tree.skipped["binary"] == 2 and tree.skipped["symlink"] == 1


def test_collect_tree_refuses_a_repository_over_the_total_limit(tmp_path):
    for number in range(3):
        (tmp_path / f"f{number}.txt").write_text("x" * 40)

    with pytest.raises(CrawlError) as caught:
        collect_tree(tmp_path, max_file_bytes=1_000, max_total_bytes=100)

    assert caught.value.kind is CrawlErrorKind.TOO_LARGE
