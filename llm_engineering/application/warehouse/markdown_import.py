"""Import a folder of Markdown articles into the data warehouse as one author's `ArticleDocument`s.

Each `*.md` file starts with a front matter block naming the article:

    ---
    title: Chunking is a product decision
    link: https://example.com/notes/chunking
    platform: example.com        (optional: defaults to the link's host)
    ---
    The body, in Markdown.

Every file is parsed before anything is written, so a bad file leaves the warehouse untouched. Article
ids derive from the link, so importing the same folder twice inserts nothing the second time.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.domain.documents import ArticleDocument, UserDocument
from llm_engineering.domain.exceptions import InvalidDocumentError
from llm_engineering.domain.names import split_user_full_name

_FRONT_MATTER = re.compile(r"^---\n(.*?)\n---\n(.*)$", re.DOTALL)
_LINK_HOST = re.compile(r"^https?://([^/]+).*$")


@dataclass(frozen=True)
class MarkdownArticle:
    """One parsed Markdown file: its front matter fields and body."""

    title: str
    link: str
    platform: str
    body: str

    @property
    def document_id(self) -> uuid.UUID:
        """The article's warehouse id: a UUID4-shaped hash of its link (stable across imports)."""
        return uuid.UUID(bytes=uuid.uuid5(uuid.NAMESPACE_URL, self.link).bytes, version=4)


@dataclass(frozen=True)
class MarkdownImportReport:
    """What `import_markdown_corpus` did: files read, articles inserted, articles already stored."""

    files: int
    inserted: int
    skipped_existing: int


def parse_markdown_article(text: str, source: str = "<text>") -> MarkdownArticle:
    """Markdown with `title`/`link`/`platform` front matter -> a MarkdownArticle.

    Keys are case-insensitive and unknown keys are ignored. Raises InvalidDocumentError, naming `source`,
    when the front matter block, its title or its link is missing.
    """
    # Files saved on Windows or with a byte order mark parse like the others.
    match = _FRONT_MATTER.match(text.lstrip("\ufeff").replace("\r\n", "\n"))
    if match is None:
        raise InvalidDocumentError(f"{source}: missing the '---' front matter block (title, link, platform)")
    fields: dict[str, str] = {}
    for line in match.group(1).splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
    for required in ("title", "link"):
        if not fields.get(required):
            raise InvalidDocumentError(f"{source}: front matter needs '{required}'")
    link = fields["link"]
    return MarkdownArticle(
        title=fields["title"],
        link=link,
        platform=fields.get("platform") or _LINK_HOST.sub(r"\1", link),
        body=match.group(2).strip(),
    )


def read_markdown_article(path: Path) -> MarkdownArticle:
    """Read and parse one Markdown file (UTF-8); raises InvalidDocumentError naming the file."""
    return parse_markdown_article(path.read_text(encoding="utf-8"), source=str(path))


def import_markdown_corpus(documents: DocumentRepository, folder: Path, author_full_name: str) -> MarkdownImportReport:
    """Insert every `*.md` of `folder` (sorted by name) into `documents` as an article of `author_full_name`,
    creating the author if needed. Idempotent: articles already stored are skipped and counted.

    Raises FileNotFoundError when `folder` has no Markdown file and
    InvalidDocumentError for a malformed file or an empty author name (nothing is written then).
    """
    files = sorted(folder.glob("*.md"))
    if not files:
        raise FileNotFoundError(f"no Markdown files in {folder}")
    first_name, last_name = split_user_full_name(author_full_name)
    parsed = [read_markdown_article(path) for path in files]
    user = documents.get_or_create(
        UserDocument, first_name=first_name, last_name=last_name
    )  # the write path may create
    articles = [
        ArticleDocument(
            id=article.document_id,
            content={"Title": article.title, "Subtitle": None, "Content": article.body},
            platform=article.platform,
            link=article.link,
            author_id=user.id,
            author_full_name=user.full_name,
        )
        for article in parsed
    ]
    report = documents.bulk_insert(ArticleDocument, articles)
    return MarkdownImportReport(
        files=len(files), inserted=len(report.inserted), skipped_existing=len(report.skipped_existing)
    )
