"""Raw documents as crawled into the data warehouse (MongoDB)."""

from __future__ import annotations

from abc import ABC

from pydantic import UUID4, Field

from llm_engineering.domain.base.nosql import NoSQLBaseDocument
from llm_engineering.domain.types import DataCategory


class UserDocument(NoSQLBaseDocument):
    """An author whose writing the twin learns from."""

    first_name: str
    last_name: str

    class Settings:
        name = "users"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Document(NoSQLBaseDocument, ABC):
    """A piece of an author's writing, as fetched. `content` shape depends on the crawler."""

    content: dict
    platform: str
    author_id: UUID4 = Field(alias="author_id")
    author_full_name: str = Field(alias="author_full_name")

    @classmethod
    def get_category(cls) -> DataCategory:
        return DataCategory(cls.get_collection_name())


class RepositoryDocument(Document):
    """A code repository: `content` maps a relative file path to its text."""

    name: str
    link: str

    class Settings:
        name = DataCategory.REPOSITORIES.value
        unique = ("link",)


class PostDocument(Document):
    """A short social post (LinkedIn and the like)."""

    image: str | None = None
    link: str | None = None

    class Settings:
        name = DataCategory.POSTS.value


class ArticleDocument(Document):
    """A long-form article (Medium, Substack, a personal blog)."""

    link: str

    class Settings:
        name = DataCategory.ARTICLES.value
        unique = ("link",)


RAW_DOCUMENT_CLASSES: tuple[type[Document], ...] = (ArticleDocument, PostDocument, RepositoryDocument)
WAREHOUSE_DOCUMENT_CLASSES: tuple[type[NoSQLBaseDocument], ...] = (UserDocument, *RAW_DOCUMENT_CLASSES)
