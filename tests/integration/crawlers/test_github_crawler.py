"""GithubCrawler cloning a real local git repository (local path and file:// URL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.application.crawlers.base import CrawlerContext, CrawlLimits
from llm_engineering.application.crawlers.github import GithubCrawler
from llm_engineering.application.errors import AlreadyCrawledError
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.documents import RepositoryDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from tests.fixtures.crawl_server import GIT_FIXTURE_MAX_FILE_BYTES, local_egress

pytestmark = pytest.mark.integration


@pytest.fixture
def crawler(documents) -> GithubCrawler:
    return GithubCrawler(
        CrawlerContext(documents, limits=CrawlLimits(max_file_bytes=GIT_FIXTURE_MAX_FILE_BYTES), egress=local_egress())
    )


@pytest.fixture
def user(documents) -> UserDocument:
    return documents.get_or_create(UserDocument, first_name="Paul", last_name="Iusztin")


def test_clone_keeps_text_files_intact_and_skips_the_rest(crawler, git_repository, user, tmp_path, documents):
    link = git_repository.as_uri()  # file:///.../twin-demo
    cwd = Path.cwd()
    before = set(tmp_path.parent.iterdir())

    assert crawler.extract(link, user) == 1

    assert Path.cwd() == cwd  # the book's crawler os.chdir'ed into the clone and never came back
    stored = documents.find(RepositoryDocument, link=link)
    assert stored.name == "twin-demo" and stored.platform == "github"
    assert set(stored.content) == {"README.md", "src/twin/app.py", ".github/workflows/ci.yml"}
    assert stored.content["README.md"] == "# Twin demo 🤖\n\nCode   with  spaces   kept.\n"
    assert stored.content["src/twin/app.py"].startswith("def answer(question: str) -> str:\n    if not question:")
    assert set(tmp_path.parent.iterdir()) == before  # nothing left behind by the clone

    # The unique index on link refuses a second copy; the crawler reports it as already crawled.
    with pytest.raises(AlreadyCrawledError):
        crawler.extract(link, user)
    assert documents.count(RepositoryDocument, link=link) == 1


def test_local_path_link(crawler, git_repository, user, documents):
    assert crawler.extract(str(git_repository), user) == 1
    assert documents.find(RepositoryDocument, link=str(git_repository)).name == "twin-demo"


def test_failed_clone_is_reported(crawler, user, tmp_path, documents):
    with pytest.raises(CrawlError) as caught:
        crawler.extract((tmp_path / "no-such-repo").as_uri(), user)

    assert caught.value.kind is CrawlErrorKind.CLONE_FAILED
    assert "git clone failed" in caught.value.reason and "fatal:" in caught.value.reason
    assert documents.count(RepositoryDocument) == 0


def test_repository_over_the_document_limit_fails(git_repository, user, documents):
    crawler = GithubCrawler(
        CrawlerContext(
            documents, limits=CrawlLimits(max_file_bytes=4_000, max_repository_bytes=100), egress=local_egress()
        )
    )

    with pytest.raises(CrawlError) as caught:
        crawler.extract(git_repository.as_uri(), user)

    assert caught.value.kind is CrawlErrorKind.TOO_LARGE
