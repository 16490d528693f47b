"""False positives of the low-content and mojibake checks on real crawled articles (no network, no warehouse).

Reads the articles of a warehouse export and raw-documents artifact (the handbook's 76 real articles by
default), runs `content_quality`'s checks on each stored text and prints how close each one comes to a limit.
Only the text was stored, not the page's HTML, so which lines were links is unknown: the check runs twice,
with no line taken for a link (what the crawler would see for an article without links) and, pessimistically,
with every short line (fewer than `MIN_SENTENCE_WORDS` words: navigation, headings, list items, code) taken
for a link's text. Exits 1 when any article would be skipped or refused.

    poetry run python bench/low_content_corpus.py [--data /work/shared/data/handbook]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from llm_engineering.application.crawlers.content_quality import (
    MIN_SENTENCE_WORDS,
    ContentProfile,
    low_content_reason,
    misdecoding_reason,
    normalize_line,
    profile_text,
)

DEFAULT_DATA = Path("/work/shared/data/handbook")


def load_articles(data: Path) -> dict[str, dict[str, Any]]:
    """{link: article} from `warehouse/ArticleDocument.json` and `artifacts/raw_documents.json` (by link)."""
    articles: dict[str, dict[str, Any]] = {}
    warehouse = data / "warehouse" / "ArticleDocument.json"
    if warehouse.exists():
        for article in json.loads(warehouse.read_text()):
            articles[article["link"]] = article
    raw = data / "artifacts" / "raw_documents.json"
    if raw.exists():
        for document in json.loads(raw.read_text()).get("artifact_data", []):
            if isinstance(document.get("content"), dict) and "Content" in document["content"]:
                articles.setdefault(document["link"], document)
    return articles


def short_lines(text: str) -> set[str]:
    """Every normalized line under `MIN_SENTENCE_WORDS` words: the most lines that could have been links."""
    lines = {normalize_line(line) for line in text.splitlines()}
    return {line for line in lines if line and len(line.split()) < MIN_SENTENCE_WORDS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    articles = load_articles(args.data)
    if not articles:
        print(f"no articles under {args.data}")
        return 2
    flagged: list[str] = []
    worst: list[tuple[ContentProfile, str]] = []
    for link, article in sorted(articles.items()):
        text = article["content"]["Content"] or ""
        plain = profile_text(text, set())
        pessimistic = profile_text(text, short_lines(text))
        reasons = [
            reason
            for reason in (misdecoding_reason(text), low_content_reason(plain), low_content_reason(pessimistic))
            if reason
        ]
        if reasons:
            flagged.append(f"{link}: {'; '.join(reasons)}")
        worst.append((pessimistic, link))
    print(f"{len(articles)} articles from {args.data}; flagged: {len(flagged)}")
    for line in flagged:
        print("  FLAGGED", line)
    profiles = [profile for profile, _ in worst]
    print(
        "pessimistic (every short line a link): link-text share max "
        f"{max(profile.link_text_share for profile in profiles):.0%}, "
        f"prose words min {min(profile.prose_words for profile in profiles)}"
    )
    print("closest to the link-share limit:")
    for profile, link in sorted(worst, key=lambda item: -item[0].link_text_share)[:5]:
        print(
            f"  {profile.link_text_share:>4.0%} link text, {profile.prose_words:>5} prose words, "
            f"{profile.link_lines:>4}/{profile.lines} short lines  {link}"
        )
    print("fewest words of prose:")
    for profile, link in sorted(worst, key=lambda item: item[0].prose_words)[:5]:
        print(f"  {profile.prose_words:>5} prose words, {profile.link_text_share:>4.0%} link text  {link}")
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
