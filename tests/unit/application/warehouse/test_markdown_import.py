"""Parsing Markdown articles with front matter for the corpus importer."""

import pytest

from llm_engineering.application.warehouse.markdown_import import (
    import_markdown_corpus,
    parse_markdown_article,
    read_markdown_article,
)
from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.domain.exceptions import InvalidDocumentError
from tests.conftest import PROJECT_ROOT

ARTICLE = """---
Title: Rerank before you prompt
link: https://quillon.example/notes/rerank
platform: quillon.example
draft: true
---

A retriever finds candidates; a reranker orders them.

Second paragraph: with a colon.
"""


def test_front_matter_fields_and_body():
    article = parse_markdown_article(ARTICLE)
    assert article.title == "Rerank before you prompt"  # keys are case-insensitive
    assert article.link == "https://quillon.example/notes/rerank"
    assert article.platform == "quillon.example"
    assert article.body == "A retriever finds candidates; a reranker orders them.\n\nSecond paragraph: with a colon."


def test_platform_defaults_to_the_link_host_and_windows_line_endings_parse():
    text = "\ufeff---\r\ntitle: T\r\nlink: http://blog.example.org/a/b?c=1\r\n---\r\nBody\r\n"
    article = parse_markdown_article(text)
    assert article.platform == "blog.example.org"
    assert article.body == "Body"


def test_ids_derive_from_the_link_so_a_reimport_finds_the_same_documents():
    first = parse_markdown_article(ARTICLE)
    again = parse_markdown_article(ARTICLE.replace("Rerank before you prompt", "New title"))
    other = parse_markdown_article(ARTICLE.replace("/rerank", "/other"))
    assert first.document_id == again.document_id != other.document_id
    assert first.document_id.version == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# No front matter\n\nJust text.", "front matter block"),
        ("---\nlink: https://x.example/a\n---\nBody", "'title'"),
        ("---\ntitle: T\nlink:\n---\nBody", "'link'"),
    ],
)
def test_malformed_articles_name_the_file_and_the_problem(text, message):
    with pytest.raises(InvalidDocumentError, match=message) as raised:
        parse_markdown_article(text, source="notes/bad.md")
    assert "notes/bad.md" in str(raised.value)


def test_the_demo_corpus_parses():
    files = sorted((PROJECT_ROOT / "data" / "demo" / "articles").glob("*.md"))
    assert files
    for path in files:
        article = read_markdown_article(path)
        assert article.title and article.link.startswith("https://") and article.body


class UntouchableWarehouse:
    """A warehouse that fails on any use: the import must not reach it."""

    def __getattr__(self, name: str):
        raise AssertionError(f"the import used the warehouse ({name}) before failing")


def test_an_empty_folder_or_a_bad_file_writes_nothing(tmp_path):
    # The warehouse refuses every call: both errors must come before the first write.
    documents = DocumentRepository(UntouchableWarehouse())
    with pytest.raises(FileNotFoundError, match="no Markdown files"):
        import_markdown_corpus(documents, tmp_path, "Jane Doe")
    (tmp_path / "good.md").write_text("---\ntitle: T\nlink: https://x.example/a\n---\nBody")
    (tmp_path / "zz-bad.md").write_text("no front matter")
    with pytest.raises(InvalidDocumentError, match=r"zz-bad\.md"):
        import_markdown_corpus(documents, tmp_path, "Jane Doe")
