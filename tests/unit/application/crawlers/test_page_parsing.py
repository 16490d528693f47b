"""Pure HTML parsing of the crawlers (no browser, no network)."""

from __future__ import annotations

import pytest

from llm_engineering.application.crawlers.custom_article import parse_article_page
from llm_engineering.application.crawlers.html_text import extract_main_text, html_to_text, main_element_text
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
    assert "- Query expansion" in content["Content"]
    assert "    scores = model.predict([(query, chunk) for chunk in chunks])" in content["Content"]


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


BOILERPLATE_STRINGS = (
    "We use cookies",
    "Accept all cookies",
    "Archive",
    "Subscribe",
    "Share on X",
    "Share on LinkedIn",
    "Related posts",
    "Reranking retrieved chunks with a cross-encoder",
    "Enjoyed this post?",
    "© Jane Doe 2025",
    "All rights reserved",
    "analytics",
)
KEPT_LINES = (
    "# Chunking strategies for RAG",
    "## Why chunk size matters",
    "## A recursive splitter in twenty lines",
    "### Choosing the overlap",
    "- Fixed-size windows with overlap",
    "- Semantic splitting on embedding distance",
    "1. Start with 500 characters and 50 of overlap.",
    "3. Only then try semantic splitting.",
    'def split(text, max_chars=500, separators=("\\n\\n", "\\n", ". ")):',
    "    if len(text) <= max_chars:",
    "            for part in parts:",
    "                chunks.extend(split(part, max_chars, separators))",
    "    return [text[i : i + max_chars] for i in range(0, len(text), max_chars)]",
    "That is all there is to it: measure before you optimise, and keep the chunks readable.",
)


def boilerplate_page() -> str:
    return (PAGES_DIR / "boilerplate" / "post.html").read_text(encoding="utf-8")


def test_main_content_drops_navigation_banners_share_bars_related_posts_and_footer():
    main = extract_main_text(boilerplate_page())

    assert main.extractor == "trafilatura"
    assert [noise for noise in BOILERPLATE_STRINGS if noise in main.text] == []
    lines = main.text.split("\n")
    assert [line for line in KEPT_LINES if line not in lines] == []
    # The code block stays one fenced block, its lines in order.
    assert "```\ndef split(" in main.text
    assert "            return chunks\n    return [text[i" in main.text


def test_article_page_keeps_title_description_and_language_next_to_the_main_content():
    content = parse_article_page(boilerplate_page())

    assert content["Title"] == "Chunking strategies for RAG | Jane Doe's blog"
    assert content["Subtitle"] == "How to split documents before embedding them, with code."
    assert content["language"] == "en"
    assert "## Why chunk size matters" in content["Content"] and "Subscribe" not in content["Content"]


@pytest.mark.parametrize(
    ("head", "body", "title"),
    [
        ('<meta property="og:title" content="From Open Graph">', "<h1>From the heading</h1>", "From Open Graph"),
        ("<title>  </title>", "<h1>From the <em>heading</em></h1>", "From the heading"),
        ("", "<p>No title anywhere.</p>", None),
    ],
)
def test_title_falls_back_to_og_title_then_the_first_heading(head, body, title):
    content = parse_article_page(f"<html><head>{head}</head><body>{body}</body></html>")

    assert content["Title"] == title


LONG_ARTICLE = """
<html><body>
<nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<article>
  <h1>Vector search in practice</h1>
  <p>{paragraph}</p>
  <h2>Indexes</h2>
  <ul><li>HNSW graphs</li><li>IVF lists</li></ul>
  <p>{paragraph}</p>
  <pre><code>index = build(vectors)
for query in queries:
    hits = index.search(query, k=10)
</code></pre>
  <footer>Filed under search</footer>
</article>
<footer>© Jane Doe 2025</footer>
</body></html>
""".replace("{paragraph}", "Approximate nearest neighbour search trades a little recall for a lot of speed. " * 6)


def _fake_trafilatura(monkeypatch: pytest.MonkeyPatch, **behaviour) -> None:
    import trafilatura

    def fake_extract(*args, **kwargs):
        if "error" in behaviour:
            raise behaviour["error"]
        return behaviour["returns"]

    monkeypatch.setattr(trafilatura, "extract", fake_extract)


def _assert_article_fallback(text: str) -> None:
    assert "# Vector search in practice" in text and "## Indexes" in text
    assert "  * HNSW graphs" in text and "  * IVF lists" in text
    assert "for query in queries:\n    hits = index.search(query, k=10)" in text
    assert all(noise not in text for noise in ("Home", "About", "© Jane Doe", "Filed under"))


@pytest.mark.parametrize(
    "behaviour",
    [
        {"returns": None},  # trafilatura found no main content
        {"returns": "  \n "},
        {"returns": "Approximate nearest neighbour search trades a little recall."},  # a fragment: too little
        {"error": ValueError("lxml could not parse the page")},
    ],
    ids=["none", "blank", "too-little", "error"],
)
def test_falls_back_to_the_article_element_when_trafilatura_has_nothing_or_too_little(monkeypatch, behaviour):
    _fake_trafilatura(monkeypatch, **behaviour)

    main = extract_main_text(LONG_ARTICLE)

    assert main.extractor == "html2text"
    _assert_article_fallback(main.text)


def test_trafilatura_is_kept_when_it_has_most_of_the_article():
    main = extract_main_text(LONG_ARTICLE)

    assert main.extractor == "trafilatura"
    assert "## Indexes" in main.text and "- HNSW graphs" in main.text
    assert "for query in queries:\n    hits = index.search(query, k=10)" in main.text
    assert "Home" not in main.text and "© Jane Doe" not in main.text


def test_fallback_uses_the_longest_article_then_main_then_body_and_never_loses_a_page():
    teaser_first = "<html><body><article><p>Teaser</p></article><article><p>The real post text.</p></article></body>"
    assert main_element_text(teaser_first + "</html>") == "The real post text."
    assert main_element_text("<html><body><p>Outside</p><main><p>Inside main</p></main></body></html>") == (
        "Inside main"
    )
    # Only navigation inside <main>: nothing left once it is dropped, so the whole page is converted.
    assert main_element_text("<html><body><main><nav>Only a menu</nav></main><p>Loose text</p></body></html>") == (
        "Only a menu\n\nLoose text"
    )
    assert main_element_text("<html><body>   </body></html>") == ""


def test_short_page_keeps_its_text():
    main = extract_main_text(
        "<html lang='en'><head><title>Generated 3</title></head><body><p>Page 3 ✨</p></body></html>"
    )

    assert main.text == "Page 3 ✨"


def test_sections_whose_heading_anchor_looks_like_boilerplate_are_kept():
    paragraph = "<p>" + "This paragraph explains the idea with enough words to count as content. " * 3 + "</p>"
    html = f"""<html><body><main><article><h1>Using IDLE</h1>{paragraph}
    <section id="editing-and-navigation"><h2>Editing and Navigation¶</h2><p>Keys move the cursor by word.</p></section>
    <div class="section" id="menus"><span id="label-menus"></span><h2>Menus</h2><p>The File menu opens files.</p></div>
    <section id="sharing-embeddings-1"><h3>Sharing embeddings</h3><p>One model serves both indexes.</p></section>
    {paragraph}<div id="site-menu"><h2>Site</h2><p>Blog · Talks · Contact</p></div>
    </article></main></body></html>"""

    main = extract_main_text(html)

    assert main.extractor == "trafilatura"
    for kept in ("Keys move the cursor by word.", "The File menu opens files.", "One model serves both indexes."):
        assert kept in main.text
    assert "## Menus" in main.text and "### Sharing embeddings" in main.text
    assert "Blog · Talks · Contact" not in main.text  # an id that is not the heading's anchor still marks chrome


def test_code_in_figures_is_kept():
    paragraph = "<p>" + "Highlighted code comes wrapped in a figure by some static site generators. " * 3 + "</p>"
    html = f"""<html><body><article><h1>Jekyll code</h1>{paragraph}
    <figure class="highlight"><pre><code class="language-python">def f(x):
    return  x * 2
</code></pre></figure>
    <figure><img src="/diagram.png" alt="diagram"><figcaption>A diagram</figcaption></figure>
    {paragraph}</article></body></html>"""

    main = extract_main_text(html)

    assert main.extractor == "trafilatura"
    assert "```\ndef f(x):\n    return  x * 2\n```" in main.text
