"""`python -m tools.run --run-etl` in a separate process, as `poe run-digital-data-etl-*` runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tests.conftest import PROJECT_ROOT
from tests.fixtures.crawl_server import crawl_site  # noqa: F401  (fixture found by name)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_run_etl_cli_crawls_a_config_into_the_configured_warehouse(
    mongo_uri,
    crawl_site,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    from llm_engineering.domain.base.nosql import bind_warehouse
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
    environment = {**os.environ, "DATABASE_HOST": mongo_uri, "DATABASE_NAME": database, "ENV_FILE": os.devnull}

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.run",
            "--run-etl",
            "--no-cache",
            "--etl-config-filename",
            "etl.yaml",
            "--config-dir",
            str(tmp_path),
        ],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Crawled 3 links: 2 succeeded, 0 skipped (already crawled), 1 failed" in result.stdout + result.stderr
    warehouse = MongoWarehouse(mongo_uri, database)
    bind_warehouse(warehouse)
    try:
        user = UserDocument.find(first_name="Jane Q", last_name="Public")
        assert user is not None
        assert ArticleDocument.count(author_id=str(user.id)) == 2
    finally:
        bind_warehouse(None)
        warehouse.drop_database()
        warehouse.close()
