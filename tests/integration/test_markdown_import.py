"""Importing a Markdown corpus into a real warehouse (nx-27017): documents, author, idempotency."""

import pytest

from llm_engineering.application.warehouse.markdown_import import MarkdownImportReport, import_markdown_corpus
from tests.rag_fixtures import DEMO_AUTHOR, DEMO_DIR

pytestmark = pytest.mark.integration


def test_import_is_idempotent_and_counts_what_it_did(documents):
    from llm_engineering.domain.documents import ArticleDocument, UserDocument

    files = len(list(DEMO_DIR.glob("*.md")))
    assert import_markdown_corpus(documents, DEMO_DIR, DEMO_AUTHOR) == MarkdownImportReport(files, files, 0)
    assert import_markdown_corpus(documents, DEMO_DIR, DEMO_AUTHOR) == MarkdownImportReport(files, 0, files)

    articles = documents.bulk_find(ArticleDocument, author_full_name=DEMO_AUTHOR)
    assert len(articles) == files
    assert documents.count(UserDocument) == 1
    article = next(a for a in articles if a.link.endswith("/rerank-before-you-prompt"))
    assert article.content["Title"] == "Rerank before you prompt"
    assert article.platform == "quillon.example"
    assert article.content["Content"].strip()
