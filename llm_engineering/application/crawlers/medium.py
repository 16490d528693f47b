"""Medium articles, rendered in a real browser (Medium builds its pages with JavaScript)."""

from __future__ import annotations

from typing import Any

from llm_engineering.application.crawlers.browser_base import BaseBrowserCrawler
from llm_engineering.application.crawlers.content_quality import check_article_text
from llm_engineering.application.crawlers.html_text import extract_main_text, html_to_text
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.documents import ArticleDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError


def parse_medium_article(html: str) -> dict[str, Any]:
    """Title, subtitle and article body of a rendered Medium page (not the whole page's text).

    Returns `{"Title", "Subtitle", "Content", "language"}`; `Content` is empty when no article body is found
    (a paywalled or non-article page).
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("h1", class_="pw-post-title") or soup.find("h1")
    subtitle_tag = soup.find(["h2", "h3"], class_="pw-subtitle-paragraph")
    description = soup.find("meta", attrs={"name": "description"})
    title = title_tag.get_text(" ", strip=True) if title_tag else None
    subtitle = subtitle_tag.get_text(" ", strip=True) if subtitle_tag else None
    if subtitle is None and description is not None and description.get("content"):
        subtitle = str(description["content"]).strip() or None
    body = soup.find("article") or soup.find("main") or soup.body
    content = ""
    if body is not None:
        # The title and subtitle are stored on their own; the rest of the article is the content.
        for tag in (title_tag, subtitle_tag):
            if tag is not None and tag in body.descendants:
                tag.decompose()
        for noise in body.find_all(["script", "style", "noscript", "nav", "footer", "button"]):
            noise.decompose()
        # Main-content extraction drops the chrome left inside the article (byline, claps, share links);
        # when it keeps too little, the whole article body's conversion is stored, as before.
        body_html = str(body)
        content = extract_main_text(
            f"<html><body>{body_html}</body></html>", fallback_text=html_to_text(body_html)
        ).text
    html_tag = soup.find("html")
    language = html_tag.get("lang") if html_tag else None
    return {"Title": title, "Subtitle": subtitle, "Content": content, "language": language}


class MediumCrawler(BaseBrowserCrawler):
    """Loads the article in headless Chromium, scrolls it (lazy content), stores title, subtitle and body."""

    model = ArticleDocument
    name = "medium"

    def extract(self, link: str, user: UserDocument) -> int:
        self.open(link)
        self.scroll_page()
        source = self.page_source()
        content = parse_medium_article(source)
        if not content["Content"].strip():
            raise CrawlError(
                CrawlErrorKind.EMPTY_PAGE, "no article body on the page (paywalled, removed or not an article)"
            )
        # Chromium decodes the page itself: its text is checked for mojibake here, and for being mostly links.
        check_article_text(source, content["Content"])
        document = ArticleDocument(
            content=content,
            link=link,
            platform="medium",
            author_id=user.id,
            author_full_name=user.full_name,
        )
        return self._save(document)
