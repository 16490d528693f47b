"""LinkedIn posts: log in with the configured account, open the profile's activity feed, scroll, store posts.

LinkedIn shows posts only to logged-in users and changes its markup often (the book's crawler was
deprecated for that reason). Without credentials the link is recorded as failed ("needs credentials")
and no browser is started. Selectors are kept in one place below so they are easy to update.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from llm_engineering.application.crawlers.browser_base import BaseBrowserCrawler
from llm_engineering.application.errors import AlreadyCrawledError
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.documents import PostDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, WarehouseOperationError

if TYPE_CHECKING:
    from llm_engineering.application.crawlers.ports import Browser

USERNAME_INPUT = "#username"
PASSWORD_INPUT = "#password"
SUBMIT_BUTTON = "button[type=submit]"
LOGIN_ERROR = "#error-for-username, #error-for-password, .alert-content, .form__label--error"
POST_CONTAINER_ATTRIBUTE = "data-urn"
POST_URN_PREFIX = "urn:li:activity:"
POST_TEXT = (
    ".update-components-text",
    ".feed-shared-inline-show-more-text",
    ".feed-shared-update-v2__description",
    ".feed-shared-text",
)
POST_IMAGE = ".update-components-image img, .feed-shared-image img"
# A stable namespace so a post gets the same id on every run: re-crawling adds no duplicates.
POST_ID_NAMESPACE = uuid.UUID("5b0c3c8e-8a4e-4c55-9d0f-6a0f0e4e7a11")


def parse_linkedin_posts(html: str) -> list[dict[str, Any]]:
    """Posts of a rendered LinkedIn activity feed: `[{"urn", "text", "image"}]`, in page order, without empties."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    posts: list[dict[str, Any]] = []
    seen: set[str] = set()
    for container in soup.find_all(attrs={POST_CONTAINER_ATTRIBUTE: True}):
        urn = str(container.get(POST_CONTAINER_ATTRIBUTE, ""))
        if not urn.startswith(POST_URN_PREFIX) or urn in seen:
            continue
        text_tag = next((tag for selector in POST_TEXT if (tag := container.select_one(selector))), None)
        text = text_tag.get_text("\n", strip=True) if text_tag else ""
        if not text:
            continue
        image = container.select_one(POST_IMAGE)
        seen.add(urn)
        posts.append({"urn": urn, "text": text, "image": str(image["src"]) if image and image.get("src") else None})
    return posts


def stable_post_id(user: UserDocument, urn: str) -> uuid.UUID:
    """The same UUID (version 4 layout, as documents require) for the same author and post on every run."""
    return uuid.UUID(bytes=uuid.uuid5(POST_ID_NAMESPACE, f"{user.id}|{urn}").bytes, version=4)


class LinkedInCrawler(BaseBrowserCrawler):
    """Stores each post of a profile's activity feed as a `PostDocument` (one link gives many posts)."""

    model = PostDocument
    name = "linkedin"
    skips_known_links = False  # posts are de-duplicated one by one (stable ids), not by the profile link

    def extract(self, link: str, user: UserDocument) -> int:
        if self.context.linkedin is None:
            # Checked before touching `self.browser`, so no browser is started for nothing.
            raise CrawlError(
                CrawlErrorKind.NEEDS_CREDENTIALS,
                "needs credentials: set LINKEDIN_USERNAME and LINKEDIN_PASSWORD to crawl LinkedIn",
            )
        self.open(link)
        self.scroll_page()
        posts = parse_linkedin_posts(self.page_source())
        if not posts:
            raise CrawlError(CrawlErrorKind.EMPTY_PAGE, "no posts found on the page")
        documents = [
            PostDocument(
                id=stable_post_id(user, post["urn"]),
                content={"text": post["text"], **({"image": post["image"]} if post["image"] else {})},
                image=post["image"],
                link=urljoin(link, f"/feed/update/{post['urn']}/"),
                platform="linkedin",
                author_id=user.id,
                author_full_name=user.full_name,
            )
            for post in posts
        ]
        try:
            report = self.context.documents.bulk_insert(PostDocument, documents)
        except WarehouseOperationError as error:
            raise CrawlError(CrawlErrorKind.STORAGE_ERROR, f"the warehouse refused the posts: {error}") from error
        if not report.inserted:
            raise AlreadyCrawledError(f"all {len(documents)} posts are already stored")
        return len(report.inserted)

    def on_browser_started(self, browser: Browser) -> None:
        self.login(browser)

    def login(self, browser: Browser) -> None:
        """Sign in through the login form; raise `CrawlError(LOGIN_FAILED)` when LinkedIn does not let us in.

        Raises `CrawlError(NEEDS_CREDENTIALS)` without touching `browser` when no credentials are configured.
        """
        credentials = self.context.linkedin
        if credentials is None:
            raise CrawlError(CrawlErrorKind.NEEDS_CREDENTIALS, "needs credentials")
        try:
            browser.open(self.context.linkedin_login_url)
            browser.fill(USERNAME_INPUT, credentials.username)
            browser.fill(PASSWORD_INPUT, credentials.password)
            browser.click(SUBMIT_BUTTON)
            settled = browser.wait_until(login_settled, self.context.limits.page_timeout_s)
            location = browser.current_url
            errors = [text for text in browser.texts(LOGIN_ERROR) if text] if "/login" in location else []
        except CrawlError as error:
            if error.kind is CrawlErrorKind.TIMEOUT:
                raise CrawlError(CrawlErrorKind.LOGIN_FAILED, "LinkedIn login did not complete in time") from error
            raise CrawlError(CrawlErrorKind.LOGIN_FAILED, f"LinkedIn login page not usable: {error.reason}") from error
        if "/checkpoint" in location:
            raise CrawlError(
                CrawlErrorKind.LOGIN_FAILED,
                "LinkedIn asks for a security check (captcha or 2FA); complete it once in a normal browser",
            )
        if errors:
            raise CrawlError(CrawlErrorKind.LOGIN_FAILED, f"LinkedIn login failed: {errors[0]}")
        if not settled:
            raise CrawlError(CrawlErrorKind.LOGIN_FAILED, "LinkedIn login did not complete in time")
        if "/login" in location:
            raise CrawlError(CrawlErrorKind.LOGIN_FAILED, "LinkedIn login failed: still on the login page")


def login_settled(browser: Browser) -> bool:
    """True once the login form was answered: the browser left the login page, or it shows an error."""
    return "/login" not in browser.current_url or any(browser.texts(LOGIN_ERROR))
