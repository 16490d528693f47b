"""Cleaning rules: what goes, what stays (paragraph breaks above all), per category."""

from __future__ import annotations

import uuid

import pytest

from llm_engineering.application.errors import UnsupportedCategoryError
from llm_engineering.application.preprocessing.cleaning_data_handlers import (
    ArticleCleaningHandler,
    PostCleaningHandler,
    content_hash,
    text_fields,
)
from llm_engineering.application.preprocessing.dispatchers import CleaningDispatcher
from llm_engineering.application.preprocessing.operations.chunking import paragraph_spans
from llm_engineering.application.preprocessing.operations.cleaning import (
    URL_PLACEHOLDER,
    clean_code,
    clean_text,
    normalize_unicode,
    replace_urls,
)
from llm_engineering.domain.cleaned_documents import CleanedArticleDocument, CleanedRepositoryDocument
from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument

AUTHOR = uuid.uuid4()


def test_paragraph_breaks_survive_so_the_paragraph_splitter_fires():
    text = "First paragraph, wrapped\nover two lines.\n\n\n\nSecond paragraph.\n   \nThird."
    cleaned = clean_text(text)
    assert cleaned == "First paragraph, wrapped over two lines.\n\nSecond paragraph.\n\nThird."
    assert len(paragraph_spans(cleaned)) == 3


def test_urls_become_placeholders_and_markdown_links_keep_their_text():
    text = "See https://example.com/a?b=1, or www.example.org. Also [the docs](https://docs.example.com/x)."
    assert clean_text(text) == f"See {URL_PLACEHOLDER}, or {URL_PLACEHOLDER}. Also the docs."
    assert replace_urls("(http://a.b/c)") == f"({URL_PLACEHOLDER})"


def test_emojis_and_pictographs_go_but_letters_of_every_script_stay():
    text = "Launch 🚀 day! Café naïve résumé, 東京, Ελληνικά 👍🏽 ✨done"
    assert clean_text(text) == "Launch day! Café naive résumé, 東京, Ελληνικά done".replace("naive", "naïve")


def test_unicode_is_normalised():
    # Bold/italic math letters (social media "fonts"), full-width forms, typographic quotes and dashes.
    text = (
        "\U0001d401\U0001d428\U0001d425\U0001d41d and \U0001d62a\U0001d635\U0001d622\U0001d62d\U0001d62a\U0001d624 "
        "\uff21\uff22\uff23 \u201cquoted\u201d \u2013 it\u2019s"
    )
    assert clean_text(text) == 'Bold and italic ABC "quoted" - it\'s'
    assert normalize_unicode("zero\u200bwidth\u00adhyphen\x07bell") == "zerowidthhyphen bell"


def test_markdown_markup_is_removed_and_words_kept():
    text = (
        "# Title\n\n## Sub\n\n**Bold** and _italic_ and ***both***.\n\n* item one\n* item two\n\n---\n\n> quoted text"
    )
    assert clean_text(text) == "Title\n\nSub\n\nBold and italic and both.\n\n- item one\n- item two\n\nquoted text"


def test_fenced_and_indented_code_blocks_keep_lines_and_symbols():
    fenced = "Intro.\n\n```python\ndef f(x):\n    return {x: [x * 2]}  # ok\n```\n\nOutro."
    assert clean_text(fenced) == "Intro.\n\n```python\ndef f(x):\n    return {x: [x * 2]}  # ok\n```\n\nOutro."
    indented = "Intro.\n\n    for i in range(3):\n        print(i)\n    \n    done()\n\nOutro."
    assert clean_text(indented) == "Intro.\n\n```\nfor i in range(3):\n    print(i)\n\ndone()\n```\n\nOutro."


def test_repeated_prose_paragraphs_are_kept_once_but_code_may_repeat():
    text = "Image by the author\n\nBody.\n\nImage by the author\n\n```\nx = 1\n```\n\n```\nx = 1\n```"
    assert clean_text(text) == "Image by the author\n\nBody.\n\n```\nx = 1\n```\n\n```\nx = 1\n```"


def test_very_long_words_and_empty_text():
    word = "a" * 5000
    assert clean_text(f"start {word} end") == f"start {word} end"
    assert clean_text("") == "" and clean_text(" \n\n \t ") == "" and clean_text("🚀 ✨") == ""


def test_cleaning_is_idempotent():
    text = "# T\n\nA **b** [c](https://x.y) 🚀.\n\n    code()\n\nEnd of it\nall."
    once = clean_text(text)
    assert clean_text(once) == once


def test_code_cleaning_trims_trailing_spaces_and_blank_runs_only():
    assert clean_code("a = 1   \n\n\n\n\tb = 2\n") == "a = 1\n\n    b = 2"


def test_article_handler_orders_title_subtitle_content_and_skips_none_and_language():
    document = ArticleDocument(
        content={"Content": "Body text.", "Subtitle": "None", "Title": "My title", "language": "en"},
        platform="medium",
        link="https://x.y/a",
        author_id=AUTHOR,
        author_full_name="Ada Lovelace",
    )
    cleaned = ArticleCleaningHandler().clean(document)
    assert isinstance(cleaned, CleanedArticleDocument)
    assert cleaned.id == document.id and cleaned.link == document.link
    assert cleaned.content == "My title\n\nBody text." and cleaned.title == "My title"
    assert cleaned.content_hash == content_hash(cleaned)
    assert text_fields({"Title": "", "Content": None, "extra": "kept", "language": "en"}) == ["kept"]
    untitled = document.model_copy(update={"content": {"Title": "None", "Content": "Body."}})
    assert ArticleCleaningHandler().clean(untitled).title is None


def test_content_hash_changes_with_content_and_payload_only():
    def article(body: str, link: str = "https://x.y/a") -> ArticleDocument:
        return ArticleDocument(
            content={"Content": body}, platform="p", link=link, author_id=AUTHOR, author_full_name="A B"
        )

    first = ArticleCleaningHandler().clean(article("Same."))
    assert ArticleCleaningHandler().clean(article("Same.")).content_hash == first.content_hash
    assert ArticleCleaningHandler().clean(article("Other.")).content_hash != first.content_hash
    assert ArticleCleaningHandler().clean(article("Same.", link="https://x.y/b")).content_hash != first.content_hash


def test_post_handler_keeps_image_and_link():
    post = PostDocument(
        content={"text": "Hello 👋 world\n\nSecond line"},
        image="https://img",
        link=None,
        platform="linkedin",
        author_id=AUTHOR,
        author_full_name="A B",
    )
    cleaned = PostCleaningHandler().clean(post)
    assert cleaned.content == "Hello world\n\nSecond line" and cleaned.image == "https://img"


def test_repository_handler_keeps_code_structure_with_file_headers():
    repository = RepositoryDocument(
        content={"b.py": "def f():\n    return 1\n", "a.md": "# Readme\n", "empty.txt": "  \n"},
        name="repo",
        link="https://git/repo",
        platform="github",
        author_id=AUTHOR,
        author_full_name="A B",
    )
    cleaned = CleaningDispatcher.dispatch(repository)
    assert isinstance(cleaned, CleanedRepositoryDocument)
    assert cleaned.content == "File: a.md\n# Readme\n\nFile: b.py\ndef f():\n    return 1"
    assert cleaned.name == "repo"


def test_dispatcher_picks_the_handler_by_category_and_rejects_unknown_ones(monkeypatch):
    from llm_engineering.application.preprocessing import dispatchers
    from llm_engineering.domain.types import DataCategory

    monkeypatch.delitem(dispatchers.CLEANING_HANDLERS, DataCategory.ARTICLES)
    document = ArticleDocument(content={}, platform="p", link="l", author_id=AUTHOR, author_full_name="A B")
    with pytest.raises(UnsupportedCategoryError, match="articles"):
        CleaningDispatcher.dispatch(document)
