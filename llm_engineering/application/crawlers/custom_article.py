"""The fallback crawler: any article page served as plain HTML (Substack, personal blogs, docs sites)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from llm_engineering.application.crawlers.base import BaseCrawler
from llm_engineering.application.crawlers.html_text import html_to_text
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.documents import ArticleDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError


def parse_article_page(html: str) -> dict[str, Any]:
    """`{"Title", "Subtitle", "Content", "language"}` of an HTML page: title, meta description, the
    page as text, and the `<html lang>`; the same fields the book's crawler stored."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else None
    description = soup.find("meta", attrs={"name": "description"}) or soup.find(
        "meta", attrs={"property": "og:description"}
    )
    subtitle = str(description.get("content", "")).strip() if description is not None else ""
    html_tag = soup.find("html")
    language = html_tag.get("lang") if html_tag else None
    return {
        "Title": title or None,
        "Subtitle": subtitle or None,
        "Content": html_to_text(html),
        "language": language,
    }


class CustomArticleCrawler(BaseCrawler):
    """Fetches the page over HTTP (no browser) and stores its text; platform is the link's host."""

    model = ArticleDocument
    name = "custom_article"

    def extract(self, link: str, user: UserDocument) -> int:
        if self.context.fetcher is None:
            raise CrawlError(CrawlErrorKind.UNEXPECTED, "no HTTP fetcher is configured")
        page = self.context.fetcher.fetch(link)
        content = parse_article_page(page.text)
        if not content["Content"].strip():
            raise CrawlError(CrawlErrorKind.EMPTY_PAGE, "the page has no text")
        document = ArticleDocument(
            content=content,
            link=link,
            platform=urlparse(link).netloc,
            author_id=user.id,
            author_full_name=user.full_name,
        )
        return self._save(document)
