"""Chunking rules: size limits, the token cap, no dropped text, deterministic ids, per-category handlers."""

from __future__ import annotations

import itertools
import re
import uuid

import pytest

from llm_engineering.application.preprocessing.chunking_data_handlers import (
    ArticleChunkingHandler,
    PostChunkingHandler,
    RepositoryChunkingHandler,
    chunk_id,
    text_to_embed,
)
from llm_engineering.application.preprocessing.dispatchers import ChunkingDispatcher
from llm_engineering.application.preprocessing.operations.chunking import (
    ChunkBudget,
    chunk_article,
    chunk_text,
    paragraph_spans,
    sentence_spans,
    split_to_fit,
    uncovered_text,
)
from llm_engineering.domain.chunks import ArticleChunk, PostChunk, RepositoryChunk
from llm_engineering.domain.cleaned_documents import (
    CleanedArticleDocument,
    CleanedPostDocument,
    CleanedRepositoryDocument,
)


def words_plus_two(text: str) -> int:
    """A stand-in tokenizer: one token per whitespace-separated word (or 8 characters of it), plus [CLS]/[SEP]."""
    return 2 + sum(max(1, -(-len(word) // 8)) for word in text.split())


def sentence(index: int, words: int = 12) -> str:
    return " ".join([f"w{index}"] + ["word"] * (words - 2) + ["end."])


def check_chunks(text, chunks, max_chars, max_tokens):
    assert chunks, "a non-empty text yields at least one chunk"
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip() and chunk.text
        assert len(chunk.text) <= max_chars
        assert chunk.tokens == words_plus_two(chunk.text) <= max_tokens
    assert uncovered_text(text, chunks) == ""


# --- Splitting ------------------------------------------------------------------------------------
def test_paragraphs_and_sentences_respect_abbreviations():
    text = "One. Dr. Smith met e.g. Bob. Why? Yes!\n\n  Next paragraph.  \n \nLast"
    assert [text[s:e] for s, e in paragraph_spans(text)] == [
        "One. Dr. Smith met e.g. Bob. Why? Yes!",
        "Next paragraph.",
        "Last",
    ]
    first = paragraph_spans(text)[0]
    assert [text[s:e] for s, e in sentence_spans(text, *first)] == ["One.", "Dr. Smith met e.g. Bob.", "Why?", "Yes!"]


def test_code_blocks_are_split_by_lines_not_sentences():
    text = "```\nx = a. b\ny = 2\n```"
    assert [text[s:e] for s, e in sentence_spans(text, 0, len(text))] == ["```", "x = a. b", "y = 2", "```"]


def test_split_to_fit_prefers_line_then_word_boundaries_and_cuts_long_words():
    budget = ChunkBudget(max_chars=20, max_tokens=100, count_tokens=words_plus_two)
    text = "alpha beta gamma delta epsilon\nzeta eta"
    pieces = [text[s:e] for s, e in split_to_fit(text, 0, len(text), budget)]
    assert pieces == ["alpha beta gamma", "delta epsilon", "zeta eta"]
    word = "x" * 45
    assert [word[s:e] for s, e in split_to_fit(word, 0, 45, budget)] == ["x" * 20, "x" * 20, "x" * 5]


def test_split_to_fit_overlaps_on_word_boundaries():
    budget = ChunkBudget(max_chars=30, max_tokens=100, count_tokens=words_plus_two)
    text = " ".join(f"word{i:02d}" for i in range(12))
    pieces = [text[s:e] for s, e in split_to_fit(text, 0, len(text), budget, overlap_chars=8)]
    assert all(len(piece) <= 30 for piece in pieces)
    for left, right in itertools.pairwise(pieces):
        assert right.split()[0] == left.split()[-1]  # the last word of a window opens the next


def test_budget_rejects_a_token_cap_with_no_room_for_text():
    with pytest.raises(ValueError, match="max_tokens"):
        ChunkBudget(max_chars=10, max_tokens=2, count_tokens=words_plus_two)


# --- Articles -------------------------------------------------------------------------------------
def test_article_chunks_are_sentence_aligned_and_within_both_limits():
    paragraphs = ["\n".join([" ".join(sentence(p * 10 + i) for i in range(6))]) for p in range(8)]
    text = "\n\n".join(paragraphs)
    chunks = chunk_article(text, min_length=300, max_length=600, max_tokens=80, count_tokens=words_plus_two)
    check_chunks(text, chunks, 600, 80)
    assert all(chunk.text.endswith("end.") for chunk in chunks)
    assert all(re.match(r"w\d+ ", chunk.text) for chunk in chunks)


def test_the_token_cap_wins_over_the_character_window():
    text = " ".join(sentence(i) for i in range(40))
    chunks = chunk_article(text, min_length=1000, max_length=2000, max_tokens=40, count_tokens=words_plus_two)
    check_chunks(text, chunks, 2000, 40)
    assert max(len(chunk.text) for chunk in chunks) < 1000


def test_article_closes_at_a_paragraph_once_long_enough():
    first = " ".join(sentence(i) for i in range(4))  # about 250 characters
    second = " ".join(sentence(i) for i in range(10, 14))
    text = f"{first}\n\n{second}"
    chunks = chunk_article(text, min_length=200, max_length=2000, max_tokens=500, count_tokens=words_plus_two)
    assert [chunk.text for chunk in chunks] == [first, second]


def test_a_short_tail_is_kept_merged_when_it_fits():
    long_paragraph = " ".join(sentence(i) for i in range(4))
    text = f"{long_paragraph}\n\nShort tail."
    chunks = chunk_article(text, min_length=200, max_length=2000, max_tokens=500, count_tokens=words_plus_two)
    assert [chunk.text for chunk in chunks] == [text]  # merged into the previous chunk


def test_a_short_tail_that_cannot_be_merged_is_kept_alone():
    text = " ".join(sentence(i) for i in range(6)) + " Tail."
    chunks = chunk_article(text, min_length=100, max_length=400, max_tokens=500, count_tokens=words_plus_two)
    check_chunks(text, chunks, 400, 500)
    assert chunks[-1].text.endswith("Tail.")


def test_a_document_shorter_than_one_chunk_is_one_chunk_and_an_empty_one_none():
    assert [c.text for c in chunk_article("Tiny.", 1000, 2000, 256, words_plus_two)] == ["Tiny."]
    assert [c.text for c in chunk_text("Tiny.", 250, 25, 256, words_plus_two)] == ["Tiny."]
    assert chunk_article("", 1000, 2000, 256, words_plus_two) == []
    assert chunk_text(" \n\n ", 250, 25, 256, words_plus_two) == []


def test_very_long_words_and_sentences_are_cut_not_dropped():
    text = "Start. " + "y" * 3000 + " " + " ".join(["long"] * 700) + " end."
    chunks = chunk_article(text, 1000, 2000, 256, words_plus_two)
    check_chunks(text, chunks, 2000, 256)


def test_unicode_text_is_chunked_without_losing_characters():
    text = "\n\n".join("Ελληνικά και 東京の文章。 Café naïve. " * 20 for _ in range(3))
    chunks = chunk_article(text, 200, 400, 60, words_plus_two)
    check_chunks(text, chunks, 400, 60)


# --- Posts and repositories ----------------------------------------------------------------------------
def test_chunk_text_packs_paragraphs_and_windows_big_ones_with_overlap():
    small = ["Short one.", "Short two.", "Short three."]
    big = " ".join(f"token{i}" for i in range(80))
    text = "\n\n".join([*small, big])
    chunks = chunk_text(text, chunk_size=250, chunk_overlap=25, max_tokens=256, count_tokens=words_plus_two)
    check_chunks(text, chunks, 250, 256)
    assert chunks[0].text == "Short one.\n\nShort two.\n\nShort three."
    windows = chunks[1:]
    assert len(windows) >= 3
    for left, right in itertools.pairwise(windows):
        assert left.end > right.start  # consecutive windows of one paragraph overlap
        assert left.end - right.start <= 25


def test_chunk_text_rejects_overlap_not_smaller_than_size():
    with pytest.raises(ValueError, match="chunk_overlap"):
        chunk_text("x", 10, 10, 256, words_plus_two)


def test_code_keeps_its_lines_inside_chunks():
    code = "\n".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(60))
    chunks = chunk_text(code, 300, 50, 256, words_plus_two)
    check_chunks(code, chunks, 300, 256)
    assert all(chunk.text.startswith("def f") for chunk in chunks if not chunk.text.startswith("return"))


# --- Handlers -------------------------------------------------------------------------------------
AUTHOR = uuid.uuid4()


def test_handlers_copy_fields_set_metadata_and_deterministic_ids():
    text = "\n\n".join(" ".join(sentence(p * 10 + i, 20) for i in range(8)) for p in range(3))
    article = CleanedArticleDocument(
        content=text, platform="blog", link="https://a", author_id=AUTHOR, author_full_name="A B", content_hash="h"
    )
    handler = ArticleChunkingHandler(max_tokens=120, count_tokens=words_plus_two)
    chunks = handler.chunk(article)
    assert len(chunks) > 1 and all(isinstance(chunk, ArticleChunk) for chunk in chunks)
    first = chunks[0]
    assert first.document_id == article.id and first.link == "https://a" and first.author_full_name == "A B"
    assert first.metadata["chunk_index"] == 0 and first.metadata["num_chunks"] == len(chunks)
    assert first.metadata["min_length"] == 1000 and first.metadata["max_length"] == 2000
    assert first.metadata["max_tokens"] == 120 and first.metadata["content_hash"] == "h"
    assert first.id == chunk_id(article.id, 0, first.content)
    assert [chunk.id for chunk in handler.chunk(article)] == [chunk.id for chunk in chunks]
    # The same text in another document gets other ids.
    twin = article.model_copy(update={"id": uuid.uuid4()})
    assert handler.chunk(twin)[0].id != first.id
    assert uuid.UUID(str(first.id)).version == 4


def test_post_and_repository_handlers_use_their_own_parameters():
    post = CleanedPostDocument(content="Hello.", platform="li", author_id=AUTHOR, author_full_name="A B", link="l")
    repository = CleanedRepositoryDocument(
        content="File: a.py\nx = 1", platform="gh", name="r", link="l", author_id=AUTHOR, author_full_name="A B"
    )
    post_chunk = PostChunkingHandler(256, words_plus_two).chunk(post)[0]
    repo_chunk = RepositoryChunkingHandler(256, words_plus_two).chunk(repository)[0]
    assert isinstance(post_chunk, PostChunk) and post_chunk.metadata["chunk_size"] == 250
    assert post_chunk.metadata["chunk_overlap"] == 25 and post_chunk.link == "l"
    assert isinstance(repo_chunk, RepositoryChunk) and repo_chunk.name == "r"
    assert repo_chunk.metadata["context_header"] == "Repository r"
    assert text_to_embed(repo_chunk) == "Repository r\n\nFile: a.py\nx = 1"
    assert (repo_chunk.metadata["chunk_size"], repo_chunk.metadata["chunk_overlap"]) == (1500, 100)


class FakeEmbedder:
    model_id = "fake"
    dimension = 3
    max_input_tokens = 64

    def count_tokens(self, text: str) -> int:
        return words_plus_two(text)

    def embed(self, texts, batch_size=None):
        return [[1.0, 0.0, 0.0] for _ in texts]


def test_chunking_dispatcher_uses_the_embedders_token_limit():
    article = CleanedArticleDocument(
        content=" ".join(sentence(i) for i in range(30)), platform="p", link="l", author_id=AUTHOR, author_full_name="A"
    )
    chunks = ChunkingDispatcher(FakeEmbedder()).dispatch(article)
    assert len(chunks) > 1 and all(chunk.metadata["token_count"] <= 64 for chunk in chunks)


def test_article_title_is_a_context_header_and_counts_against_the_token_cap():
    body = "\n\n".join(" ".join(sentence(p * 10 + i, 20) for i in range(8)) for p in range(3))
    title = "A title of six words here"
    article = CleanedArticleDocument(
        content=f"{title}\n\n{body}", title=title, platform="p", link="l", author_id=AUTHOR, author_full_name="A"
    )
    chunks = ArticleChunkingHandler(max_tokens=120, count_tokens=words_plus_two).chunk(article)
    assert chunks[0].content.startswith(title) and chunks[0].metadata["context_header"] == ""
    assert all(chunk.metadata["context_header"] == title for chunk in chunks[1:])
    for chunk in chunks:
        embedded_text = text_to_embed(chunk)
        assert words_plus_two(embedded_text) == chunk.metadata["token_count"] <= 120
    assert text_to_embed(chunks[1]) == f"{title}\n\n{chunks[1].content}"


def test_an_overlong_title_is_not_used_as_header():
    article = CleanedArticleDocument(
        content="Body. " * 50, title="word " * 40, platform="p", link="l", author_id=AUTHOR, author_full_name="A"
    )
    chunks = ArticleChunkingHandler(max_tokens=100, count_tokens=words_plus_two).chunk(article)
    assert all(chunk.metadata["context_header"] == "" for chunk in chunks)
