"""Pure HTML parsing of the crawlers (no browser, no network)."""

from __future__ import annotations

from llm_engineering.application.crawlers.custom_article import parse_article_page
from llm_engineering.application.crawlers.html_text import html_to_text
from llm_engineering.application.crawlers.linkedin import parse_linkedin_posts
from llm_engineering.application.crawlers.medium import parse_medium_article
from tests.fixtures.crawl_server import PAGES_DIR

RENDERED_MEDIUM = """
<html lang="en"><head><meta name="description" content="Fallback subtitle"></head><body>
<nav>Open in app</nav>
<article>
  <h1 class="pw-post-title">A <em>real</em> title</h1>
  <h2 class="pw-subtitle-paragraph">The subtitle</h2>
  <p>First paragraph 😀.</p>
  <pre><span>for x in xs:\n    print( x )</span></pre>
  <script>tracking()</script>
</article>
<footer>Careers</footer>
</body></html>
"""


def test_medium_article_has_title_subtitle_and_only_the_article_body():
    content = parse_medium_article(RENDERED_MEDIUM)

    assert content["Title"] == "A real title"
    assert content["Subtitle"] == "The subtitle"
    assert content["language"] == "en"
    assert "First paragraph 😀." in content["Content"]
    assert "for x in xs:\n    print( x )" in content["Content"]
    assert all(noise not in content["Content"] for noise in ("Open in app", "Careers", "tracking", "A real title"))


def test_medium_subtitle_falls_back_to_the_meta_description_and_empty_article_gives_empty_content():
    content = parse_medium_article(
        '<html><head><meta name="description" content="Fallback subtitle"></head><body><article></article></body></html>'
    )

    assert content == {"Title": None, "Subtitle": "Fallback subtitle", "Content": "", "language": None}


def test_article_page_fields_match_the_books_content_keys():
    content = parse_article_page((PAGES_DIR / "substack" / "post.html").read_text(encoding="utf-8"))

    assert set(content) == {"Title", "Subtitle", "Content", "language"}
    assert content["Title"] == "The 4 advanced RAG algorithms you must know"
    assert content["Subtitle"].startswith("Query expansion, self-query")
    assert "  * Query expansion" in content["Content"]


def test_html_to_text_keeps_unicode_long_lines_and_code_indentation():
    long_line = " ".join(["word"] * 60)
    text = html_to_text(f"<p>{long_line} “quoted” — ✨</p><pre><code>if a:\n    b  =  1\n</code></pre>")

    assert f"{long_line} “quoted” — ✨" in text  # no re-wrapping, no ASCII look-alikes
    assert "```\nif a:\n    b  =  1\n" in text


def test_linkedin_posts_keep_order_skip_empty_and_duplicate_posts():
    html = (PAGES_DIR / "linkedin" / "feed.html").read_text(encoding="utf-8")
    html = html.replace(
        "</main>",
        '<div data-urn="urn:li:activity:1002"><div class="update-components-text">dup'
        '</div></div><div data-urn="urn:li:ad:9"><div class="update-components-text">ad'
        "</div></div></main>",
    )

    posts = parse_linkedin_posts(html)

    assert [post["urn"] for post in posts] == ["urn:li:activity:1001", "urn:li:activity:1002"]
    assert (
        posts[0]["text"]
        == "Shipping an LLM twin is 20% model, 80% data pipelines. 🛠️\nHere is the architecture we used."
    )
    assert posts[0]["image"] == "/linkedin/diagram.png" and posts[1]["image"] is None
