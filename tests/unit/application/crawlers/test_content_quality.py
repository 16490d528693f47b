"""Checks on an extracted article before it is stored: mostly links or boilerplate, or CJK mojibake."""

from __future__ import annotations

import pytest

from llm_engineering.application.crawlers.content_quality import (
    MAX_LINK_TEXT_SHARE,
    check_article_text,
    link_texts,
    low_content_reason,
    misdecoding_reason,
    normalize_line,
    profile_text,
)
from llm_engineering.application.crawlers.custom_article import parse_article_page
from llm_engineering.application.crawlers.medium import parse_medium_article
from llm_engineering.application.errors import LowContentError
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.exceptions import CrawlError
from tests.fixtures.crawl_server import PAGES_DIR

PROSE = (
    "Retrieval quality depends on how documents are split before they are embedded, and on how the chunks "
    "keep enough context to answer a question on their own without the rest of the article around them."
)


def _page(body: str) -> str:
    return f"<html><head><title>t</title></head><body>{body}</body></html>"


def test_link_texts_are_normalized_and_only_real_links_count():
    html = _page('<a href="/a"> Home  <b>Page</b></a><a name="anchor">Not a link</a><a href="/b">**Blog**</a>')

    assert link_texts(html) == {"home page", "blog"}
    assert normalize_line("  - **Home   Page**") == "home page"
    assert normalize_line("## 1. Setup") == "setup"


def test_link_farm_fixture_is_mostly_links():
    html = (PAGES_DIR / "lowcontent" / "link-farm.html").read_text()
    text = parse_article_page(html, "http://127.0.0.1/lowcontent/link-farm.html")["Content"]

    profile = profile_text(text, link_texts(html))
    with pytest.raises(LowContentError) as caught:
        check_article_text(html, text)

    assert profile.link_lines == 500 and profile.link_text_share > 0.95 and profile.prose_words < 10
    assert caught.value.reason.startswith("mostly links: ")
    assert "500 of " in caught.value.reason


@pytest.mark.parametrize(
    "page", ["substack/post.html", "blog/post.html", "boilerplate/post.html", "encoding/latin1-declared-utf16.html"]
)
def test_real_article_fixtures_pass(page):
    html = (PAGES_DIR / page).read_bytes().decode("cp1252" if page.startswith("encoding/") else "utf-8")
    text = parse_article_page(html, f"http://127.0.0.1/{page}")["Content"]

    check_article_text(html, text)  # raises when the page would be skipped


def test_medium_fixture_passes():
    html = (PAGES_DIR / "medium" / "article.html").read_text()

    check_article_text(html, parse_medium_article(html)["Content"])


def test_an_index_page_with_hardly_any_prose_is_skipped():
    titles = [f"Post {number} on retrieval" for number in range(12)]
    html = _page("".join(f'<p><a href="/p/{number}">{title}</a></p>' for number, title in enumerate(titles)))
    bylines = [f"Published March {day}, 2024 · 5 min read" for day in range(12)]
    text = "# Posts tagged RAG\n\n" + "\n\n".join(
        f"- {title}\n\n{by}" for title, by in zip(titles, bylines, strict=True)
    )

    profile = profile_text(text, link_texts(html))

    # The bylines keep the share of link text under the limit, but no line reads as a sentence.
    assert profile.link_text_share <= MAX_LINK_TEXT_SHARE and profile.prose_words == 0
    reason = low_content_reason(profile)
    assert reason is not None and reason.startswith("hardly any prose: 0 words in sentences next to 12 link lines")


def test_an_article_with_a_table_of_contents_and_a_few_links_is_kept():
    headings = [f"Section {number}" for number in range(12)]
    toc = "".join(f'<li><a href="#s{number}">{heading}</a></li>' for number, heading in enumerate(headings))
    html = _page(f"<nav><ul>{toc}</ul></nav><article>...</article>")
    # The headings repeat the table of contents' link texts: counted as link lines, the prose outweighs them.
    text = "\n\n".join(f"## {heading}\n\n{PROSE}" for heading in headings)

    assert low_content_reason(profile_text(text, link_texts(html))) is None


def test_a_short_page_with_few_links_is_not_judged_by_its_links():
    html = _page('<a href="/">Home</a><a href="/about">About</a><p>Page 3</p>')

    assert low_content_reason(profile_text("Home\nAbout\nPage 3", link_texts(html))) is None


def test_utf16_mojibake_of_an_ascii_page_is_refused():
    source = (PAGES_DIR / "substack" / "post.html").read_bytes()
    mojibake = source[: len(source) // 2 * 2].decode("utf-16-le", errors="replace")

    with pytest.raises(CrawlError) as caught:
        check_article_text("<html><body></body></html>", mojibake)

    assert caught.value.kind is CrawlErrorKind.BAD_ENCODING
    assert caught.value.reason.startswith("the text looks like 8-bit bytes read as UTF-16")


@pytest.mark.parametrize(
    "text",
    [
        "今天我们来讨论如何在一张显卡上微调大型语言模型，这是系列文章的第二部分。我们会介绍量化、低秩适配以及梯度检查点等技术。"  # noqa: RUF001
        * 3,
        "今日は大規模言語モデルを一枚のGPUで微調整する方法について説明します。これはシリーズの第二部です。" * 3,
        "오늘은 하나의 GPU로 대규모 언어 모델을 미세 조정하는 방법을 설명합니다. 이것은 시리즈의 두 번째 부분입니다."
        * 3,
        "Crème brûlée, façon grand-mère : déjà prêt. " * 20,
    ],
    ids=["chinese", "japanese", "korean", "french"],
)
def test_real_non_ascii_text_is_not_taken_for_mojibake(text):
    assert misdecoding_reason(text) is None
