"""What the UI lists from the data warehouse, through its `DocumentRepository`: authors with their document
counts, and one category of an author's documents (title, link and platform only: never the crawled
content, which is untrusted and can be large). Strings are returned as stored; the pages escape them."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.domain.documents import ArticleDocument, Document, PostDocument, RepositoryDocument, UserDocument

Category = Literal["articles", "posts", "repositories"]
CATEGORIES: dict[str, type[Document]] = {
    "articles": ArticleDocument,
    "posts": PostDocument,
    "repositories": RepositoryDocument,
}


def authors_page(documents: DocumentRepository, page: int, size: int) -> tuple[list[dict[str, Any]], int]:
    """One page of authors sorted by full name (case-insensitive), with their document counts; and the total."""
    users = sorted(documents.iter_find(UserDocument), key=lambda user: (user.full_name.casefold(), str(user.id)))
    chosen = users[(page - 1) * size : page * size]
    return [
        {
            "id": str(user.id),
            "full_name": user.full_name,
            "counts": {name: documents.count(cls, author_id=str(user.id)) for name, cls in CATEGORIES.items()},
        }
        for user in chosen
    ], len(users)


def find_author(documents: DocumentRepository, author_id: str) -> UserDocument | None:
    """The author with this id, None when there is none (or the id is not a UUID)."""
    try:
        normalized = str(uuid.UUID(author_id))
    except ValueError:
        return None
    return documents.find(UserDocument, id=normalized)


def documents_page(
    documents: DocumentRepository, author: UserDocument, category: Category, page: int, size: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of the author's documents of `category`, in stored order; and their total."""
    cls = CATEGORIES[category]
    total = documents.count(cls, author_id=str(author.id))
    start = (page - 1) * size
    if start >= total:
        return [], total
    found = list(documents.iter_find(cls, limit=start + size, author_id=str(author.id)))[start:]
    return [document_summary(document) for document in found], total


def document_summary(document: Document) -> dict[str, Any]:
    """id, title (an article's `Title`, a repository's name; None when there is none), link and platform."""
    title = document.content.get("Title") if isinstance(document.content, dict) else None
    if isinstance(document, RepositoryDocument):
        title = document.name
    return {
        "id": str(document.id),
        "title": title if isinstance(title, str) and title else None,
        "link": getattr(document, "link", None),
        "platform": document.platform,
    }
