import uuid

import pytest

from llm_engineering.domain.base.nosql import NoSQLBaseDocument
from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument, UserDocument
from llm_engineering.domain.exceptions import ImproperlyConfigured, InvalidDocumentError
from llm_engineering.domain.names import split_user_full_name
from llm_engineering.domain.types import DataCategory


def _article(**overrides):
    values = {
        "content": {"Title": "T", "Content": "Body ✨ `code`"},
        "platform": "medium",
        "author_id": uuid.uuid4(),
        "author_full_name": "Ada Lovelace",
        "link": "https://example.com/a",
    }
    values.update(overrides)
    return ArticleDocument(**values)


def test_to_mongo_stores_ids_as_strings_under_underscore_id():
    article = _article()
    record = article.to_mongo()
    assert record["_id"] == str(article.id)
    assert "id" not in record
    assert record["author_id"] == str(article.author_id)
    assert record["content"]["Content"] == "Body ✨ `code`"


def test_from_mongo_round_trip_is_equal_and_hash_by_id():
    article = _article()
    again = ArticleDocument.from_mongo(article.to_mongo())
    assert again == article
    assert again.model_dump() == article.model_dump()
    assert len({article, again}) == 1


def test_equality_needs_same_class_and_id():
    article = _article()
    post = PostDocument(id=article.id, content={}, platform="x", author_id=article.author_id, author_full_name="A")
    assert article != post


def test_from_mongo_rejects_empty_and_invalid_records():
    with pytest.raises(InvalidDocumentError, match="empty"):
        ArticleDocument.from_mongo({})
    with pytest.raises(InvalidDocumentError, match="link"):
        ArticleDocument.from_mongo(
            {
                "_id": str(uuid.uuid4()),
                "content": {},
                "platform": "x",
                "author_id": str(uuid.uuid4()),
                "author_full_name": "A",
            }
        )
    with pytest.raises(InvalidDocumentError):
        UserDocument.from_mongo({"_id": "not-a-uuid", "first_name": "A", "last_name": "B"})


def test_collection_names_and_categories():
    assert UserDocument.get_collection_name() == "users"
    assert ArticleDocument.get_collection_name() == DataCategory.ARTICLES
    assert PostDocument.get_category() is DataCategory.POSTS
    assert RepositoryDocument.get_category() is DataCategory.REPOSITORIES
    assert ArticleDocument.unique_fields() == ("link",)
    assert PostDocument.unique_fields() == ()


def test_missing_settings_class_is_improperly_configured():
    class Orphan(NoSQLBaseDocument):
        value: int = 1

    with pytest.raises(ImproperlyConfigured, match="Settings"):
        Orphan.get_collection_name()


def test_documents_hold_no_store_the_repositories_do():
    """Persistence lives in `DocumentRepository` / `VectorIndex`, given their store; documents cannot reach one."""
    from llm_engineering.domain.base import nosql, vector
    from llm_engineering.domain.documents import ArticleDocument
    from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk

    for name in ("save", "find", "bulk_insert", "bulk_find", "count", "delete"):
        assert not hasattr(ArticleDocument, name) and not hasattr(EmbeddedArticleChunk, name)
    module_state = [
        name
        for module in (nosql, vector)
        for name, value in vars(module).items()
        if not name.startswith("__") and isinstance(value, dict | list | set)
    ]
    assert module_state == []  # no process-wide binding of a store


def test_user_full_name_and_split():
    assert UserDocument(first_name="Paul", last_name="Iusztin").full_name == "Paul Iusztin"
    assert split_user_full_name("Paul Iusztin") == ("Paul", "Iusztin")
    assert split_user_full_name("Jean Claude Van Damme") == ("Jean Claude Van", "Damme")
    assert split_user_full_name("Plato") == ("Plato", "Plato")
    with pytest.raises(InvalidDocumentError):
        split_user_full_name("  ")


def test_data_category_values_are_collection_names():
    assert {c.value for c in DataCategory} >= {"posts", "articles", "repositories", "queries", "prompt"}
    assert len(DataCategory) == 9
