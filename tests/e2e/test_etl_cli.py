"""`python -m tools.run --run-etl` in a separate process, as `poe run-digital-data-etl-*` runs it."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.cli import run_module
from tests.fixtures.crawl_server import crawl_site  # noqa: F401  (fixture found by name)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_run_etl_cli_crawls_a_config_into_the_configured_warehouse(
    mongo_uri,
    crawl_site,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    from llm_engineering.domain.base.nosql import DocumentRepository
    from llm_engineering.domain.documents import ArticleDocument, UserDocument
    from llm_engineering.infrastructure.db.mongo import MongoWarehouse

    database = f"cli_{uuid.uuid4().hex[:8]}"
    (tmp_path / "etl.yaml").write_text(
        "parameters:\n"
        "  user_full_name: Jane Q Public\n"
        "  links:\n"
        f"    - {crawl_site.url('/substack/post.html')}\n"
        f"    - {crawl_site.url('/blog/post.html')}\n"
        f"    - {crawl_site.url('/missing.html')}\n",
        encoding="utf-8",
    )
    environment = {
        **os.environ,
        "DATABASE_HOST": mongo_uri,
        "DATABASE_NAME": database,
        "ENV_FILE": os.devnull,
        "CRAWL_ALLOW_PRIVATE_NETWORKS": "true",  # the fixture site is on 127.0.0.1
    }

    output = run_module(
        "tools.run",
        "--run-etl",
        "--no-cache",
        "--etl-config-filename",
        "etl.yaml",
        "--config-dir",
        str(tmp_path),
        env=environment,
        timeout_s=300,
        with_stderr=True,
    )

    assert "Crawled 3 links: 2 succeeded, 0 skipped (already crawled), 0 skipped (low content), 1 failed" in output
    warehouse = MongoWarehouse(mongo_uri, database)
    documents = DocumentRepository(warehouse)
    try:
        user = documents.find(UserDocument, first_name="Jane Q", last_name="Public")
        assert user is not None
        assert documents.count(ArticleDocument, author_id=str(user.id)) == 2
    finally:
        warehouse.drop_database()
        warehouse.close()
