"""The ODM (`DocumentRepository`) against a real nx-27017 MongoDB wire-protocol server."""

import threading
import time
import uuid

import pytest

from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument, UserDocument
from llm_engineering.domain.exceptions import DuplicateDocumentError, WarehouseUnavailableError
from llm_engineering.infrastructure.db.mongo import MongoWarehouse

pytestmark = pytest.mark.integration


def _article(user: UserDocument, link: str, **content) -> ArticleDocument:
    return ArticleDocument(
        content={"Title": "T", "Content": "body 🚀", **content},
        platform="example.com",
        author_id=user.id,
        author_full_name=user.full_name,
        link=link,
    )


def test_save_find_and_bulk_find(documents):
    user = documents.save(UserDocument(first_name="Ada", last_name="Lovelace"))
    assert documents.find(UserDocument, first_name="Ada") == user
    articles = [_article(user, f"https://example.com/{i}") for i in range(3)]
    for article in articles:
        documents.save(article)
    found = documents.bulk_find(ArticleDocument, author_id=str(user.id))
    assert sorted(a.link for a in found) == sorted(a.link for a in articles)
    # UUID filters are converted to their stored string form.
    assert documents.count(ArticleDocument, author_id=user.id) == 3
    assert documents.find(ArticleDocument, link="https://example.com/1").content["Content"] == "body 🚀"
    assert documents.find(ArticleDocument, link="https://nowhere") is None
    assert len(documents.bulk_find(ArticleDocument, limit=2)) == 2
    assert {
        a.link for a in documents.bulk_find(ArticleDocument, link=["https://example.com/0", "https://example.com/2"])
    } == {
        "https://example.com/0",
        "https://example.com/2",
    }


def test_dotted_paths_in_filters(documents):
    user = documents.save(UserDocument(first_name="A", last_name="B"))
    documents.save(_article(user, "https://x/1", Title="Wanted"))
    documents.save(_article(user, "https://x/2", Title="Other"))
    assert [a.link for a in documents.bulk_find(ArticleDocument, **{"content.Title": "Wanted"})] == ["https://x/1"]


def test_get_or_create_is_idempotent(documents):
    first = documents.get_or_create(UserDocument, first_name="Paul", last_name="Iusztin")
    second = documents.get_or_create(UserDocument, first_name="Paul", last_name="Iusztin")
    assert first.id == second.id
    assert documents.count(UserDocument) == 1


def test_duplicate_id_and_unique_link_raise_domain_errors(documents):
    user = documents.save(UserDocument(first_name="A", last_name="B"))
    article = documents.save(_article(user, "https://example.com/same"))
    with pytest.raises(DuplicateDocumentError):
        documents.save(article)
    with pytest.raises(DuplicateDocumentError):
        documents.save(_article(user, "https://example.com/same"))
    assert documents.count(ArticleDocument) == 1


def test_bulk_insert_skips_existing_ids_and_links(documents):
    user = documents.save(UserDocument(first_name="A", last_name="B"))
    batch = [_article(user, f"https://example.com/{i}") for i in range(4)]
    first = documents.bulk_insert(ArticleDocument, batch)
    assert len(first.inserted) == 4 and first.skipped_existing == []
    again = documents.bulk_insert(ArticleDocument, [*batch, _article(user, "https://example.com/new")])
    assert len(again.inserted) == 1 and len(again.skipped_existing) == 4
    clash = documents.bulk_insert(ArticleDocument, [_article(user, "https://example.com/0")])  # same link, new id
    assert clash.inserted == [] and len(clash.skipped_existing) == 1
    assert documents.count(ArticleDocument) == 5


def test_concurrent_get_or_create_makes_one_user(documents):
    results = []

    def create():
        results.append(
            documents.get_or_create(
                RepositoryDocument,
                name="repo",
                link="https://github.com/a/repo",
                content={},
                platform="github",
                author_id=uuid.UUID(int=1, version=4),
                author_full_name="A B",
            )
        )

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert documents.count(RepositoryDocument) == 1
    assert len({r.id for r in results}) == 1


def test_delete_requires_a_filter(documents):
    user = documents.save(UserDocument(first_name="A", last_name="B"))
    documents.save(PostDocument(content={"text": "hi"}, platform="linkedin", author_id=user.id, author_full_name="A B"))
    with pytest.raises(ValueError, match="filter"):
        documents.delete(PostDocument)
    assert documents.delete(PostDocument, author_id=user.id) == 1
    assert documents.count(PostDocument) == 0


def test_unreachable_warehouse_fails_fast_naming_uri_and_command(mongo_uri):
    from tests.conftest import free_port

    store = MongoWarehouse(f"mongodb://user:secret@127.0.0.1:{free_port()}", "twin", timeout_s=1)
    started = time.monotonic()
    with pytest.raises(WarehouseUnavailableError) as info:
        store.find_one("users", {})
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "127.0.0.1" in message and "local-infrastructure-up" in message
    assert "secret" not in message
