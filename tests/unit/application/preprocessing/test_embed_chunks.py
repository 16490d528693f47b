"""`embed_chunks` on a fake embedder: length-sorted groups per category, progress per group, input order kept."""

from __future__ import annotations

import uuid

import pytest
from loguru import logger

from llm_engineering.application.preprocessing.feature_engineering import embed_chunks
from llm_engineering.domain.chunks import ArticleChunk, PostChunk

AUTHOR = uuid.uuid4()


class RecordingEmbedder:
    model_id = "fake/model"
    dimension = 2
    max_input_tokens = 64

    def __init__(self, fail_on: str | None = None):
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2

    def embed(self, texts, batch_size=None):
        self.calls.append(list(texts))
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError("the model ran out of memory")
        return [[float(len(text)), 1.0] for text in texts]


def article(content: str, document: uuid.UUID) -> ArticleChunk:
    return ArticleChunk(
        content=content,
        platform="blog",
        document_id=document,
        author_id=AUTHOR,
        author_full_name="A B",
        link="https://a",
        metadata={"feature_hash": "f"},
    )


def post(content: str, document: uuid.UUID) -> PostChunk:
    return PostChunk(content=content, platform="p", document_id=document, author_id=AUTHOR, author_full_name="A B")


@pytest.fixture
def lines() -> list[str]:
    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(str(message).strip()), level="INFO", format="{message}")
    yield messages
    logger.remove(sink)


def test_groups_are_per_category_longest_first_and_the_result_keeps_the_input_order(lines):
    documents = [uuid.uuid4() for _ in range(3)]
    chunks = [
        article("a" * 3, documents[0]),
        post("p" * 9, documents[2]),
        article("a" * 5, documents[0]),
        article("a" * 1, documents[1]),
        article("a" * 4, documents[1]),
    ]
    embedder = RecordingEmbedder()
    embedded, failed = embed_chunks(chunks, embedder, group_size=2)
    assert failed == {}
    assert embedder.calls == [["a" * 5, "a" * 4], ["a" * 3, "a" * 1], ["p" * 9]]
    assert [chunk.id for chunk in embedded] == [chunk.id for chunk in chunks]
    assert [chunk.embedding[0] for chunk in embedded] == [3.0, 9.0, 5.0, 1.0, 4.0]
    # One progress line per group, counting chunks of the whole job.
    progress = [line for line in lines if line.startswith("Embedding: ")]
    assert [line.split(" (")[0] for line in progress] == [
        "Embedding: 2/5 chunks",
        "Embedding: 4/5 chunks",
        "Embedding: 5/5 chunks",
    ]
    assert "chunks/s" in progress[-1] or "s/chunk" in progress[-1]


def test_a_failed_group_leaves_out_every_chunk_of_its_documents_and_the_rest_goes_on(lines):
    bad, neighbour, kept = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # Longest first: the bad document's long chunk fails with its neighbour's; its short chunk lands in a
    # group that succeeds, and is still left out (no document is stored half-embedded).
    chunks = [article("n" * 8, neighbour), article("b" * 9, bad), article("k" * 2, kept), article("b" * 1, bad)]
    embedder = RecordingEmbedder(fail_on="b" * 9)
    embedded, failed = embed_chunks(chunks, embedder, group_size=2)
    assert failed == {str(bad): "the model ran out of memory", str(neighbour): "the model ran out of memory"}
    assert [chunk.content for chunk in embedded] == ["k" * 2]
    assert [line.split(" (")[0] for line in lines if line.startswith("Embedding: ")] == [
        "Embedding: 2/4 chunks",
        "Embedding: 4/4 chunks",
    ]
    assert any("Embedding 2 chunks failed" in line for line in lines)


def test_nothing_to_embed_makes_no_call():
    embedder = RecordingEmbedder()
    assert embed_chunks([], embedder) == ([], {})
    assert embedder.calls == []


def test_the_group_size_must_be_positive():
    with pytest.raises(ValueError, match="group_size"):
        embed_chunks([], RecordingEmbedder(), group_size=0)
