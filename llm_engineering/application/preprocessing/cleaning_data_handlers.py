"""Cleaning handlers: one per data category, turning a raw warehouse document into a cleaned one.

The cleaned document keeps the raw document's id (lineage across stores) and carries a hash of its
cleaned payload, which incremental runs compare against what the feature store already holds.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar

from llm_engineering.application.preprocessing.operations.cleaning import (
    clean_source_file,
    clean_text,
    join_cleaned,
)
from llm_engineering.application.preprocessing.operations.page_leads import (
    article_title,
    is_repeated_description,
    unglue_leads,
)
from llm_engineering.domain.cleaned_documents import (
    CleanedArticleDocument,
    CleanedDocument,
    CleanedPostDocument,
    CleanedRepositoryDocument,
)
from llm_engineering.domain.documents import ArticleDocument, Document, PostDocument, RepositoryDocument
from llm_engineering.domain.types import DataCategory

DocumentT = TypeVar("DocumentT", bound=Document)
CleanedDocumentT = TypeVar("CleanedDocumentT", bound=CleanedDocument)

# Content keys that describe the text rather than hold it.
_METADATA_KEYS = frozenset({"language", "image", "images", "lang"})
# Known text fields come first, in reading order; any other text field follows in key order.
_LEADING_KEYS = ("Title", "title", "Subtitle", "subtitle", "Content", "content", "text", "Text")


def content_hash(document: CleanedDocument) -> str:
    """SHA-256 of everything in a cleaned document that its chunks depend on (payload without the hash)."""
    payload = document.model_dump(mode="json", exclude={"id", "content_hash"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def text_fields(content: dict[str, Any]) -> list[str]:
    """The document's text values in reading order, without empty values, the crawler's "None" and metadata."""
    keys = [key for key in _LEADING_KEYS if key in content]
    keys += sorted(key for key in content if key not in keys and key not in _METADATA_KEYS)
    values = []
    for key in keys:
        value = content[key]
        if isinstance(value, str) and value.strip() and value.strip() != "None":
            values.append(value)
    return values


class CleaningDataHandler(ABC, Generic[DocumentT, CleanedDocumentT]):
    """Cleans one category of raw documents."""

    cleaned_class: ClassVar[type[CleanedDocument]]

    def clean(self, document: DocumentT) -> CleanedDocumentT:
        """The cleaned document, same id as the raw one, with `content_hash` set."""
        cleaned = self.cleaned_class(
            id=document.id,
            content=self.clean_content(document),
            platform=document.platform,
            author_id=document.author_id,
            author_full_name=document.author_full_name,
            **self.extra_fields(document),
        )
        cleaned.content_hash = content_hash(cleaned)
        return cleaned  # type: ignore[return-value]

    @abstractmethod
    def clean_content(self, document: DocumentT) -> str: ...

    def extra_fields(self, document: DocumentT) -> dict[str, Any]:
        """Category-specific fields copied from the raw document."""
        return {}


class ArticleCleaningHandler(CleaningDataHandler[ArticleDocument, CleanedArticleDocument]):
    cleaned_class = CleanedArticleDocument

    def clean_content(self, document: ArticleDocument) -> str:
        # Title and subtitle lead the text, as their own paragraphs, so the first chunk names the article;
        # the body's repeats of them go, and so does a description that only repeats the body.
        title, description, body = self._parts(document)
        if description and is_repeated_description(description, body, title):
            description = ""
        body = unglue_leads(body, [lead for lead in (title, description) if lead])
        return join_cleaned((title, description, body))

    def extra_fields(self, document: ArticleDocument) -> dict[str, Any]:
        return {"link": document.link, "title": self._parts(document)[0] or None}

    def _parts(self, document: ArticleDocument) -> tuple[str, str, str]:
        """(title, description, body), each cleaned; the title without the page's site or author decoration."""
        # Cleaning is the slow part (per character); content and title both need the parts.
        cached = getattr(self, "_cached_parts", None)
        if cached is not None and cached[0] is document:
            return cached[1]
        parts = self._clean_parts(document)
        self._cached_parts = (document, parts)
        return parts

    @staticmethod
    def _clean_parts(document: ArticleDocument) -> tuple[str, str, str]:
        fields = {key: document.content[key] for key in document.content}
        title = text_fields({key: fields.pop(key) for key in ("Title", "title") if key in fields})
        description = text_fields({key: fields.pop(key) for key in ("Subtitle", "subtitle") if key in fields})
        body = clean_text("\n\n".join(text_fields(fields)))
        # A title or description is never chrome, even one that reads "Follow" or "Share".
        page_title = clean_text(title[0], page_chrome=False) if title else ""
        cleaned_title = article_title(page_title, body, document.author_full_name) if page_title else ""
        return cleaned_title, clean_text(description[0], page_chrome=False) if description else "", body


class PostCleaningHandler(CleaningDataHandler[PostDocument, CleanedPostDocument]):
    cleaned_class = CleanedPostDocument

    def clean_content(self, document: PostDocument) -> str:
        return clean_text("\n\n".join(text_fields(document.content)))

    def extra_fields(self, document: PostDocument) -> dict[str, Any]:
        return {"image": document.image, "link": document.link}


class RepositoryCleaningHandler(CleaningDataHandler[RepositoryDocument, CleanedRepositoryDocument]):
    cleaned_class = CleanedRepositoryDocument

    def clean_content(self, document: RepositoryDocument) -> str:
        # Code keeps its lines and symbols (the book's cleaner erased both); each file opens with its path.
        sections = (
            clean_source_file(path, text) for path, text in sorted(document.content.items()) if isinstance(text, str)
        )
        return "\n\n".join(section for section in sections if section)

    def extra_fields(self, document: RepositoryDocument) -> dict[str, Any]:
        return {"name": document.name, "link": document.link}


CLEANING_HANDLERS: dict[DataCategory, type[CleaningDataHandler]] = {
    DataCategory.POSTS: PostCleaningHandler,
    DataCategory.ARTICLES: ArticleCleaningHandler,
    DataCategory.REPOSITORIES: RepositoryCleaningHandler,
}
