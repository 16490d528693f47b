"""Dispatcher routing: domains, subdomains, schemes, custom registrations and the fallback."""

from __future__ import annotations

import pytest

from llm_engineering.application.crawlers.base import CrawlerContext
from llm_engineering.application.crawlers.custom_article import CustomArticleCrawler
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher, crawler_class
from llm_engineering.application.crawlers.github import GithubCrawler
from llm_engineering.application.crawlers.linkedin import LinkedInCrawler
from llm_engineering.application.crawlers.medium import MediumCrawler


@pytest.fixture
def dispatcher() -> CrawlerDispatcher:
    return CrawlerDispatcher.default().register_local_git()


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://medium.com/decodingml/an-end-to-end-framework-2cc6bb01141f", MediumCrawler),
        ("http://medium.com/decodingml/post", MediumCrawler),  # the book matched https:// only
        ("https://www.medium.com/p/123", MediumCrawler),
        ("https://pauliusztin.medium.com/some-post", MediumCrawler),  # the book fell back for subdomains
        ("HTTPS://Medium.com/x", MediumCrawler),
        ("https://medium.com", MediumCrawler),
        ("https://medium.com?source=x", MediumCrawler),
        ("https://www.linkedin.com/in/pauliusztin/recent-activity/all/", LinkedInCrawler),
        ("https://github.com/PacktPublishing/LLM-Engineers-Handbook", GithubCrawler),
        ("http://www.github.com/org/repo.git", GithubCrawler),
        ("file:///tmp/repos/demo", GithubCrawler),
        ("/srv/git/demo", GithubCrawler),
        ("https://decodingml.substack.com/p/real-time-feature-pipelines-with?r=1ttoeh", CustomArticleCrawler),
        ("https://mlabonne.github.io/blog/posts/2024-07-29_Finetune_Llama31.html", CustomArticleCrawler),
        ("https://notmedium.com/post", CustomArticleCrawler),
        ("https://medium.com.evil.example/post", CustomArticleCrawler),
        ("https://example.com/?next=https://medium.com/x", CustomArticleCrawler),
    ],
)
def test_links_go_to_the_crawler_of_their_domain(dispatcher, link, expected):
    assert dispatcher.crawler_class_for(link) is expected


def test_registered_host_port_and_path_prefix_win_in_order():
    dispatcher = (
        CrawlerDispatcher.build()
        .register("127.0.0.1:8123/medium", "medium")
        .register("127.0.0.1:8123", CustomArticleCrawler)
        .register_github()
    )

    assert dispatcher.crawler_class_for("http://127.0.0.1:8123/medium/article.html") is MediumCrawler
    assert dispatcher.crawler_class_for("http://127.0.0.1:8123/mediums") is CustomArticleCrawler
    assert dispatcher.crawler_class_for("http://127.0.0.1:8123/blog/post.html") is CustomArticleCrawler
    assert dispatcher.crawler_class_for("http://127.0.0.1:9999/medium/article.html") is CustomArticleCrawler


def test_routes_from_a_config_accept_prefixes_and_regexes():
    dispatcher = CrawlerDispatcher.build().register_routes(
        {"blog.example.org": "medium", r"^https://git\.example\.org/": "github"}
    )

    assert dispatcher.crawler_class_for("https://blog.example.org/post") is MediumCrawler
    assert dispatcher.crawler_class_for("https://git.example.org/team/repo") is GithubCrawler


def test_get_crawler_returns_a_new_instance_each_time(dispatcher, memory_documents):
    context = CrawlerContext(memory_documents)
    first = dispatcher.get_crawler("https://medium.com/p/1", context)
    second = dispatcher.get_crawler("https://medium.com/p/1", context)

    assert isinstance(first, MediumCrawler) and first is not second
    assert not first.browser_started  # instances are cheap: the browser starts on the first page


def test_unknown_crawler_name_and_empty_domain_are_clear_errors():
    with pytest.raises(ValueError, match="Unknown crawler 'selenium'; known crawlers: custom_article, github"):
        crawler_class("selenium")
    with pytest.raises(ValueError, match="no domain"):
        CrawlerDispatcher.build().register("https://", "medium")
