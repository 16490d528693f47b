"""HTML to readable text: the transforms both article crawlers use.

`extract_main_text` keeps a page's main content only (no navigation, footers, cookie banners, share
bars or related-post lists): trafilatura extracts it as markdown (headings, lists, tables and fenced
code blocks kept). When trafilatura finds nothing, or clearly too little, the page's `<article>`,
`<main>` or body goes through `html_to_text` instead, so a page is never lost.

`html_to_text` is the transform langchain-community's `Html2TextTransformer` applies (html2text without
links and images), called directly so the project does not lean on a package that is being sunset.
Lines are not re-wrapped and code blocks are kept fenced with their indentation: raw text is stored
as fetched, cleaning happens later in the feature pipeline.

Heavy libraries (trafilatura, lxml, bs4, html2text) are imported inside the functions: importing the
crawl code must stay light.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from loguru import logger

Extractor = Literal["trafilatura", "html2text"]

# trafilatura's text is kept unless it has fewer words than this share of the fallback's text (the
# `<article>`/`<main>`/body conversion): below it, trafilatura most likely kept a fragment (a caption,
# one section) or judged a short page to be boilerplate, and the fallback loses less.
MIN_MAIN_CONTENT_SHARE = 0.3
# Removed before the fallback conversion: never the author's text. `<aside>` and `<header>` stay (callouts, titles).
FALLBACK_NOISE_TAGS = ("script", "style", "noscript", "template", "nav", "footer", "form", "button")
# Pruned before trafilatura runs: its main pass drops these anyway, its recall pass on short pages may not.
_PRUNED_XPATHS = ["//nav", "//footer", "//*[@role='navigation']"]
_WORD = re.compile(r"\w+")
_NON_WORD = re.compile(r"[\W_]+")
_DUPLICATE_SUFFIX = re.compile(r"-\d+$")  # "setup-1": the second section titled "Setup"
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


@dataclass(frozen=True)
class MainText:
    """The text a page's main content was turned into, and which extractor produced it."""

    text: str
    extractor: Extractor


def html_to_text(html: str) -> str:
    """Markdown-like text of an HTML fragment or page."""
    import html2text

    converter = html2text.HTML2Text()
    converter.ignore_links = True
    converter.ignore_images = True
    converter.body_width = 0  # no hard wrapping: keep the author's lines
    converter.unicode_snob = True  # keep unicode characters instead of ASCII look-alikes
    converter.backquote_code_style = True  # fenced code blocks keep their indentation
    return converter.handle(html).strip()


def trafilatura_text(html: str, url: str | None = None) -> str:
    """Main content of a page as markdown, by trafilatura; `""` when it finds none or fails."""
    import trafilatura

    try:
        tree = trafilatura.load_html(html)
        if tree is None:
            return ""
        _drop_section_anchor_ids(tree)
        _unwrap_content_figures(tree)
        text = trafilatura.extract(
            tree,
            url=url,
            output_format="markdown",
            include_formatting=True,  # headings, lists, emphasis and code fences as markdown
            include_links=False,
            include_images=False,
            include_tables=True,
            include_comments=False,  # readers' comments are not the author's writing
            favor_recall=True,  # when unsure, keep text: the cleaning step removes leftovers
            deduplicate=False,
            prune_xpath=_PRUNED_XPATHS,
        )
    except Exception as error:  # noqa: BLE001 - odd markup must not lose the page: the fallback runs
        logger.debug("trafilatura failed on {}: {!r}", url or "a page", error)
        return ""
    return (text or "").strip()


def _slug(text: str) -> str:
    return _NON_WORD.sub("-", text.lower()).strip("-")


def _drop_section_anchor_ids(tree: Any) -> None:
    """Remove the ids that a document generator derives from a section's heading (Sphinx, Pandoc, Quarto).

    trafilatura drops any element whose id contains a token such as "nav", "menu", "share", "footer" or
    "comment": `<section id="editing-and-navigation"><h2>Editing and Navigation</h2>…` would lose the
    author's whole section. Such an id names the section's heading, not a role on the page, so it goes.
    """
    for element in tree.xpath("//*[@id]"):
        heading = element if element.tag in _HEADINGS else _first_block_child(element)
        if heading is None or heading.tag not in _HEADINGS:
            continue
        anchor, title = _slug(element.get("id", "")), _slug(heading.text_content())
        if title and (anchor == title or _DUPLICATE_SUFFIX.sub("", anchor) == title):
            del element.attrib["id"]


def _unwrap_content_figures(tree: Any) -> None:
    """Turn the `<figure>`s that hold code, a table or a quote into `<div>`s, so trafilatura keeps them.

    trafilatura drops every `<figure>` (usually an image and its caption), but Jekyll wraps highlighted
    code in `<figure class="highlight">` and books wrap code listings in `<figure class="listing">`.
    """
    for figure in tree.xpath("//figure[.//pre or .//code or .//table or .//blockquote]"):
        figure.tag = "div"


def _first_block_child(element: Any) -> Any:
    """The first child element, skipping empty inline anchors (`<span id="label"></span>` before a heading)."""
    for child in element.iterchildren("*"):
        if child.tag in ("a", "span") and not child.text_content().strip():
            continue
        return child
    return None


def main_element_text(html: str) -> str:
    """html2text conversion of the page's `<article>` (the longest one), else `<main>`, else body.

    Scripts, navigation, footers, forms and buttons inside it are dropped; when that leaves no text, the
    whole page is converted (what the crawler stored before main-content extraction).
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    articles = soup.find_all("article")
    element = (
        max(articles, key=lambda article: len(article.get_text(" ", strip=True)))
        if articles
        else soup.find("main") or soup.body
    )
    text = ""
    if element is not None:
        for noise in element.find_all(FALLBACK_NOISE_TAGS):
            noise.decompose()
        text = html_to_text(str(element))
    return text or html_to_text(html)


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def extract_main_text(html: str, url: str | None = None, *, fallback_text: str | None = None) -> MainText:
    """The page's main content as markdown-like text: trafilatura's, or the fallback's when it has too little.

    The fallback is `fallback_text` when given, else `main_element_text(html)`. "Too little" is no text,
    or fewer words than `MIN_MAIN_CONTENT_SHARE` of the fallback's text.
    """
    main = trafilatura_text(html, url)
    fallback = main_element_text(html) if fallback_text is None else fallback_text
    main_words, fallback_words = word_count(main), word_count(fallback)
    if main and main_words >= MIN_MAIN_CONTENT_SHARE * fallback_words:
        logger.debug("{}: main content by trafilatura ({} of {} words)", url or "page", main_words, fallback_words)
        return MainText(main, "trafilatura")
    logger.debug(
        "{}: trafilatura kept {} of {} words, falling back to html2text", url or "page", main_words, fallback_words
    )
    return MainText(fallback, "html2text")
