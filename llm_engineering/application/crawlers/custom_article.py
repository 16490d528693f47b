"""The fallback crawler: any article page served as plain HTML (Substack, personal blogs, docs sites)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from llm_engineering.application.crawlers.base import BaseCrawler
from llm_engineering.application.crawlers.content_quality import check_article_text
from llm_engineering.application.crawlers.html_text import extract_main_text
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.documents import ArticleDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError


def parse_article_page(html: str, url: str | None = None) -> dict[str, Any]:
    """`{"Title", "Subtitle", "Content", "language"}` of an HTML page: title, meta description, the
    page's main content as text, and the `<html lang>`; the same fields the book's crawler stored.

    The title is the `<title>`, else og:title, else the first `<h1>`. The content is the main content
    (navigation, footers, banners and share bars left out, see `extract_main_text`); which extractor
    produced it is logged at debug level, not stored (every other content key is read as text).
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = _page_title(soup)
    description = soup.find("meta", attrs={"name": "description"}) or soup.find(
        "meta", attrs={"property": "og:description"}
    )
    subtitle = str(description.get("content", "")).strip() if description is not None else ""
    html_tag = soup.find("html")
    language = html_tag.get("lang") if html_tag else None
    return {
        "Title": title or None,
        "Subtitle": subtitle or None,
        "Content": extract_main_text(html, url).text,
        "language": language,
    }


def _page_title(soup: Any) -> str | None:
    if soup.title is not None and soup.title.get_text(strip=True):
        return soup.title.get_text(strip=True)
    og_title = soup.find("meta", attrs={"property": "og:title"})
    if og_title is not None and str(og_title.get("content", "")).strip():
        return str(og_title["content"]).strip()
    heading = soup.find("h1")
    return heading.get_text(" ", strip=True) or None if heading is not None else None


class CustomArticleCrawler(BaseCrawler):
    """Fetches the page over HTTP (no browser) and stores its main content; platform is the link's host."""

    model = ArticleDocument
    name = "custom_article"

    def extract(self, link: str, user: UserDocument) -> int:
        if self.context.fetcher is None:
            raise CrawlError(CrawlErrorKind.UNEXPECTED, "no HTTP fetcher is configured")
        page = self.context.fetcher.fetch(link)
        content = parse_article_page(page.text, link)
        if not content["Content"].strip():
            raise CrawlError(CrawlErrorKind.EMPTY_PAGE, "the page has no text")
        check_article_text(page.text, content["Content"])  # a link farm or mojibake is not stored
        document = ArticleDocument(
            content=content,
            link=link,
            platform=urlparse(link).netloc,
            author_id=user.id,
            author_full_name=user.full_name,
        )
        return self._save(document)
