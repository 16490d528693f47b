"""Cleaned documents for dataset-generation tests: the project's own demo articles (written by us)."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from llm_engineering.domain.cleaned_documents import CleanedArticleDocument

DEMO_ARTICLES = Path(__file__).resolve().parent.parent / "data" / "demo" / "articles"
AUTHORS = ("Ada Lovelace", "Grace Hopper")


def _stable_uuid4(name: str) -> uuid.UUID:
    # Documents use version-4 ids; derive them from a name so reruns see the same documents.
    return uuid.UUID(bytes=hashlib.md5(name.encode()).digest(), version=4)


def demo_cleaned_articles() -> list[CleanedArticleDocument]:
    """The four demo articles as cleaned documents (front matter read, body cleaned), two per author."""
    from llm_engineering.application.preprocessing.operations.cleaning import clean_text

    documents = []
    for index, path in enumerate(sorted(DEMO_ARTICLES.glob("*.md"))):
        _, front, body = path.read_text(encoding="utf-8").split("---", 2)
        meta = dict(line.split(": ", 1) for line in front.strip().splitlines())
        author = AUTHORS[index % 2]
        documents.append(
            CleanedArticleDocument(
                id=_stable_uuid4(meta["link"]),
                content=clean_text(body),
                platform=meta["platform"],
                link=meta["link"],
                title=meta["title"],
                author_id=_stable_uuid4(author),
                author_full_name=author,
            )
        )
    return documents
