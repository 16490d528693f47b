"""CustomArticleCrawler over real HTTP (httpx) against the local fixture site, into a real nx-27017 warehouse."""

from __future__ import annotations

import pytest

from llm_engineering.application.crawlers.base import CrawlerContext, CrawlLimits
from llm_engineering.application.crawlers.custom_article import CustomArticleCrawler
from llm_engineering.application.errors import LowContentError
from llm_engineering.application.preprocessing.cleaning_data_handlers import ArticleCleaningHandler
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.documents import ArticleDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.http_pages import HttpPageFetcher
from tests.conftest import free_port
from tests.fixtures.crawl_server import PAGE_TIMEOUT_S, local_egress

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fetcher():
    page_fetcher = HttpPageFetcher(timeout_s=PAGE_TIMEOUT_S, max_bytes=200_000, egress=local_egress())
    yield page_fetcher
    page_fetcher.close()


@pytest.fixture
def crawler(fetcher, documents) -> CustomArticleCrawler:
    return CustomArticleCrawler(
        CrawlerContext(documents, limits=CrawlLimits(page_timeout_s=PAGE_TIMEOUT_S), fetcher=fetcher)
    )


@pytest.fixture
def user(documents) -> UserDocument:
    return documents.get_or_create(UserDocument, first_name="Maxime", last_name="Labonne")


def test_substack_like_post_is_stored_as_fetched(crawler, crawl_site, user, documents):
    link = crawl_site.url("/substack/post.html")

    assert crawler.extract(link, user) == 1

    stored = documents.find(ArticleDocument, link=link)
    assert stored is not None
    assert stored.platform == crawl_site.netloc
    assert stored.author_id == user.id and stored.author_full_name == "Maxime Labonne"
    content = stored.content
    assert content["Title"] == "The 4 advanced RAG algorithms you must know"
    assert content["Subtitle"] == "Query expansion, self-query, hybrid search and reranking, explained."
    assert content["language"] == "en"
    assert "four techniques — with code 👇" in content["Content"]
    assert "« très bien »" in content["Content"]
    # Code keeps its indentation and inner spacing (the book's GitHub crawler stripped spaces; we store as fetched).
    assert "    scores = model.predict([(query, chunk) for chunk in chunks])" in content["Content"]


def test_generic_blog_post_uses_og_description_and_follows_redirects(crawler, crawl_site, user, documents):
    link = crawl_site.url("/redirect")

    crawler.extract(link, user)

    stored = documents.find(ArticleDocument, link=link)
    assert stored.content["Title"] == "Fine-tune Llama 3.1 with Unsloth"
    assert stored.content["Subtitle"] == "A practical guide to supervised fine-tuning on one GPU."
    assert stored.content["language"] == "fr"
    assert "trainer.train()" in stored.content["Content"]


def test_blog_post_with_boilerplate_stores_only_its_main_content(crawler, crawl_site, user, documents):
    link = crawl_site.url("/boilerplate/post.html")

    crawler.extract(link, user)

    stored = documents.find(ArticleDocument, link=link)
    assert set(stored.content) == {"Title", "Subtitle", "Content", "language"}
    assert stored.content["Title"] == "Chunking strategies for RAG | Jane Doe's blog"
    assert stored.content["Subtitle"] == "How to split documents before embedding them, with code."
    body = stored.content["Content"]
    # Cookie banner, navigation, share bars, related posts, newsletter box and footer are gone.
    for noise in (
        "We use cookies",
        "Accept all cookies",
        "Archive",
        "Subscribe",
        "Share this post",
        "Share on LinkedIn",
        "Related posts",
        "Query expansion in practice",
        "Enjoyed this post?",
        "© Jane Doe 2025",
    ):
        assert noise not in body, noise
    # Headings, list items and code lines (with their indentation) are kept.
    lines = body.split("\n")
    for kept in (
        "## Why chunk size matters",
        "### Choosing the overlap",
        "- Recursive splitting on paragraphs, then sentences",
        "2. Measure retrieval recall on a held-out set of questions.",
        "    for separator in separators:",
        "        if len(parts) > 1:",
        "                chunks.extend(split(part, max_chars, separators))",
    ):
        assert kept in lines, kept
    # The feature pipeline's cleaning keeps the code block as code.
    cleaned = ArticleCleaningHandler().clean(stored).content
    assert "```\ndef split(" in cleaned and "            for part in parts:" in cleaned
    assert "Subscribe" not in cleaned


@pytest.mark.parametrize(
    ("path", "kind", "reason_part"),
    [
        ("/missing-page.html", CrawlErrorKind.HTTP_ERROR, "HTTP 404"),
        ("/error500", CrawlErrorKind.HTTP_ERROR, "HTTP 500"),
        ("/download.zip", CrawlErrorKind.NOT_HTML, "application/zip"),
        ("/data.json", CrawlErrorKind.NOT_HTML, "application/json"),
        ("/empty", CrawlErrorKind.EMPTY_PAGE, "no text"),
        ("/big", CrawlErrorKind.TOO_LARGE, "200000-byte limit"),
        ("/slow", CrawlErrorKind.TIMEOUT, f"within {PAGE_TIMEOUT_S:g}s"),
        ("/encoding/garbled", CrawlErrorKind.BAD_ENCODING, "fit no charset"),
    ],
)
def test_bad_pages_fail_with_a_specific_reason_and_store_nothing(
    crawler, crawl_site, user, path, kind, reason_part, documents
):
    link = crawl_site.url(path)

    with pytest.raises(CrawlError) as caught:
        crawler.extract(link, user)

    assert caught.value.kind is kind
    assert reason_part in caught.value.reason
    assert documents.find(ArticleDocument, link=link) is None


def test_page_with_a_charset_header_that_does_not_fit_its_bytes_is_stored_as_the_right_text(
    crawler, crawl_site, user, documents
):
    # The server says UTF-16 and sends Latin-1 bytes: read as UTF-16 they are CJK mojibake.
    link = crawl_site.url("/encoding/latin1-declared-utf16.html")

    assert crawler.extract(link, user) == 1

    stored = documents.find(ArticleDocument, link=link)
    assert stored.content["Title"] == "Affiner un modèle de langue sur un seul GPU"
    assert stored.content["language"] == "fr"
    body = stored.content["Content"]
    for words in ("Cet été, j'ai affiné un modèle", "Déjà, la première époque", "Élément clé", "bâclée répétée"):
        assert words in body, words
    assert not any("\u4e00" <= character <= "\u9fff" for character in body)


def test_link_farm_is_skipped_with_the_reason_and_not_stored(crawler, crawl_site, user, documents):
    link = crawl_site.url("/lowcontent/link-farm.html")

    with pytest.raises(LowContentError) as caught:
        crawler.extract(link, user)

    assert caught.value.reason.startswith("mostly links: ")
    assert documents.find(ArticleDocument, link=link) is None


def test_refused_connection_and_unresolvable_host(crawler, user):
    with pytest.raises(CrawlError) as refused:
        crawler.extract(f"http://127.0.0.1:{free_port()}/post", user)
    assert refused.value.kind is CrawlErrorKind.CONNECTION_FAILED
    assert "refused" in refused.value.reason

    # `.invalid` is reserved (RFC 2606): it never resolves, with or without a network.
    with pytest.raises(CrawlError) as unresolved:
        crawler.extract("http://no-such-host.invalid/post", user)
    assert unresolved.value.kind is CrawlErrorKind.DNS_FAILURE
