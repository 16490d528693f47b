"""The ODM against a real nx-27017 MongoDB wire-protocol server."""

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


def test_save_find_and_bulk_find(warehouse):
    user = UserDocument(first_name="Ada", last_name="Lovelace").save()
    assert UserDocument.find(first_name="Ada") == user
    articles = [_article(user, f"https://example.com/{i}") for i in range(3)]
    for article in articles:
        article.save()
    found = ArticleDocument.bulk_find(author_id=str(user.id))
    assert sorted(a.link for a in found) == sorted(a.link for a in articles)
    # UUID filters are converted to their stored string form.
    assert ArticleDocument.count(author_id=user.id) == 3
    assert ArticleDocument.find(link="https://example.com/1").content["Content"] == "body 🚀"
    assert ArticleDocument.find(link="https://nowhere") is None
    assert len(ArticleDocument.bulk_find(limit=2)) == 2
    assert {a.link for a in ArticleDocument.bulk_find(link=["https://example.com/0", "https://example.com/2"])} == {
        "https://example.com/0",
        "https://example.com/2",
    }


def test_dotted_paths_in_filters(warehouse):
    user = UserDocument(first_name="A", last_name="B").save()
    _article(user, "https://x/1", Title="Wanted").save()
    _article(user, "https://x/2", Title="Other").save()
    assert [a.link for a in ArticleDocument.bulk_find(**{"content.Title": "Wanted"})] == ["https://x/1"]


def test_get_or_create_is_idempotent(warehouse):
    first = UserDocument.get_or_create(first_name="Paul", last_name="Iusztin")
    second = UserDocument.get_or_create(first_name="Paul", last_name="Iusztin")
    assert first.id == second.id
    assert UserDocument.count() == 1


def test_duplicate_id_and_unique_link_raise_domain_errors(warehouse):
    user = UserDocument(first_name="A", last_name="B").save()
    article = _article(user, "https://example.com/same").save()
    with pytest.raises(DuplicateDocumentError):
        article.save()
    with pytest.raises(DuplicateDocumentError):
        _article(user, "https://example.com/same").save()
    assert ArticleDocument.count() == 1


def test_bulk_insert_skips_existing_ids_and_links(warehouse):
    user = UserDocument(first_name="A", last_name="B").save()
    batch = [_article(user, f"https://example.com/{i}") for i in range(4)]
    first = ArticleDocument.bulk_insert(batch)
    assert len(first.inserted) == 4 and first.skipped_existing == []
    again = ArticleDocument.bulk_insert([*batch, _article(user, "https://example.com/new")])
    assert len(again.inserted) == 1 and len(again.skipped_existing) == 4
    clash = ArticleDocument.bulk_insert([_article(user, "https://example.com/0")])  # same link, new id
    assert clash.inserted == [] and len(clash.skipped_existing) == 1
    assert ArticleDocument.count() == 5


def test_concurrent_get_or_create_makes_one_user(warehouse):
    results = []

    def create():
        results.append(
            RepositoryDocument.get_or_create(
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
    assert RepositoryDocument.count() == 1
    assert len({r.id for r in results}) == 1


def test_delete_requires_a_filter(warehouse):
    user = UserDocument(first_name="A", last_name="B").save()
    PostDocument(content={"text": "hi"}, platform="linkedin", author_id=user.id, author_full_name="A B").save()
    with pytest.raises(ValueError, match="filter"):
        PostDocument.delete()
    assert PostDocument.delete(author_id=user.id) == 1
    assert PostDocument.count() == 0


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
