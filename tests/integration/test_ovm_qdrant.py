"""The OVM (`VectorIndex`) against Qdrant in embedded local mode on a temporary folder."""

import math
import multiprocessing
import uuid

import pytest

from llm_engineering.domain.cleaned_documents import CleanedArticleDocument
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk, EmbeddedPostChunk
from llm_engineering.domain.exceptions import ImproperlyConfigured, InvalidDocumentError, VectorStoreLockedError
from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore
from tests.waiting import CEILING_S

pytestmark = pytest.mark.integration

AUTHOR_A = uuid.uuid4()
AUTHOR_B = uuid.uuid4()


def _chunk(content: str, vector: list[float], author=AUTHOR_A, name="Ada Lovelace") -> EmbeddedArticleChunk:
    return EmbeddedArticleChunk(
        content=content,
        embedding=vector,
        platform="medium",
        document_id=uuid.uuid4(),
        author_id=author,
        author_full_name=name,
        link=f"https://example.com/{content}",
    )


def test_vector_collection_is_created_on_demand_with_cosine_and_dimension(vector_store, vector_index):
    assert vector_index.count(EmbeddedArticleChunk) == 0
    assert vector_index.search(EmbeddedArticleChunk, [1.0, 0.0, 0.0]) == []
    vector_index.bulk_insert(EmbeddedArticleChunk, [_chunk("x", [1.0, 0.0, 0.0])])
    info = vector_store.client.get_collection("embedded_articles")
    assert info.config.params.vectors.size == 3
    assert info.config.params.vectors.distance.name == "COSINE"


def test_cleaned_collection_has_no_vectors(vector_store, vector_index):
    doc = CleanedArticleDocument(
        content="text", platform="p", author_id=AUTHOR_A, author_full_name="A", link="https://a"
    )
    assert vector_index.bulk_insert(CleanedArticleDocument, [doc]) == 1
    info = vector_store.client.get_collection("cleaned_articles")
    assert not info.config.params.vectors
    assert vector_index.retrieve(CleanedArticleDocument, [doc.id])[0].model_dump() == doc.model_dump()


def test_upsert_is_idempotent_and_search_filters_by_payload(vector_index):
    chunks = [
        _chunk("north", [1.0, 0.0, 0.0]),
        _chunk("east", [0.0, 1.0, 0.0]),
        _chunk("north-b", [0.9, 0.1, 0.0], author=AUTHOR_B, name="Bob"),
    ]
    vector_index.bulk_insert(EmbeddedArticleChunk, chunks)
    vector_index.bulk_insert(EmbeddedArticleChunk, chunks)
    assert vector_index.count(EmbeddedArticleChunk) == 3
    hits = vector_index.search_with_scores(EmbeddedArticleChunk, [1.0, 0.0, 0.0], limit=2)
    assert [doc.content for doc, _ in hits] == ["north", "north-b"]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5) and hits[0][1] > hits[1][1]
    only_b = vector_index.search(EmbeddedArticleChunk, [1.0, 0.0, 0.0], limit=5, author_id=AUTHOR_B)
    assert [doc.content for doc in only_b] == ["north-b"]
    assert vector_index.count(EmbeddedArticleChunk, author_full_name=["Bob", "Nobody"]) == 1


def test_bulk_find_paginates_through_everything(vector_index):
    chunks = [_chunk(f"c{i}", [float(i + 1), 1.0]) for i in range(25)]
    vector_index.bulk_insert(EmbeddedArticleChunk, chunks)
    seen, offset, pages = [], None, 0
    while True:
        page, offset = vector_index.bulk_find(EmbeddedArticleChunk, limit=10, offset=offset)
        seen.extend(page)
        pages += 1
        if offset is None:
            break
    assert pages == 3
    assert {c.id for c in seen} == {c.id for c in chunks}
    assert all(c.embedding is None for c in seen)  # vectors are not fetched when paging
    with_vectors, _ = vector_index.bulk_find(EmbeddedArticleChunk, limit=1, with_vectors=True)
    assert len(with_vectors[0].embedding) == 2
    assert len(vector_index.find_all(EmbeddedArticleChunk, page_size=7)) == 25


def test_delete_and_missing_embedding(vector_index):
    chunks = [_chunk("a", [1.0, 0.0]), _chunk("b", [0.0, 1.0])]
    vector_index.bulk_insert(EmbeddedArticleChunk, chunks)
    vector_index.delete(EmbeddedArticleChunk, [chunks[0].id])
    assert [c.content for c in vector_index.find_all(EmbeddedArticleChunk)] == ["b"]
    with pytest.raises(InvalidDocumentError, match="no embedding"):
        vector_index.bulk_insert(
            EmbeddedPostChunk,
            [
                EmbeddedPostChunk(
                    content="p",
                    embedding=None,
                    platform="linkedin",
                    document_id=uuid.uuid4(),
                    author_id=AUTHOR_A,
                    author_full_name="A",
                )
            ],
        )
    with pytest.raises(ImproperlyConfigured):
        vector_index.create_collection(EmbeddedPostChunk)


def _open_store(path: str, queue) -> None:
    try:
        QdrantVectorStore(path=path).ping()
        queue.put("opened")
    except VectorStoreLockedError as error:
        queue.put(f"locked: {error}")


def test_second_process_on_the_same_folder_gets_a_clear_message(tmp_path):
    owner = QdrantVectorStore(path=tmp_path / "q")
    owner.ping()
    queue = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(target=_open_store, args=(str(tmp_path / "q"), queue))
    process.start()
    # A spawned interpreter importing the Qdrant client: seconds when idle, far more on a busy machine.
    result = queue.get(timeout=CEILING_S)
    process.join(CEILING_S)
    owner.close()
    assert result.startswith("locked:")
    assert "QDRANT_URL" in result and "stop that process" in result


def test_chunks_carry_a_keyword_index_and_hybrid_search_fuses_it(vector_store, vector_index):
    from llm_engineering.domain.sparse_text import query_vector

    # "east" and "gradient checkpointing" share no direction, only the query's words.
    chunks = [_chunk("north", [1.0, 0.0, 0.0]), _chunk("gradient checkpointing saves memory", [0.0, 1.0, 0.0])]
    vector_index.bulk_insert(EmbeddedArticleChunk, chunks)
    info = vector_store.client.get_collection("embedded_articles")
    assert info.config.params.sparse_vectors["bm25"].modifier.name == "IDF"
    assert vector_index.has_sparse_index(EmbeddedArticleChunk)
    stored = vector_store.retrieve("embedded_articles", [str(chunks[1].id)], with_vectors=True)[0]
    assert stored.vector == pytest.approx([0.0, 1.0, 0.0]) and stored.sparse_vector
    assert vector_index.retrieve(EmbeddedArticleChunk, [chunks[1].id], with_vectors=True)[0].embedding == pytest.approx(
        [0, 1, 0]
    )

    dense = vector_index.search_with_scores(EmbeddedArticleChunk, [1.0, 0.0, 0.0], limit=1)
    hybrid = vector_index.search_with_scores(
        EmbeddedArticleChunk,
        [1.0, 0.0, 0.0],
        limit=2,
        sparse_query=query_vector("gradient checkpointing"),
        candidates=2,
    )
    assert [doc.content for doc, _ in dense] == ["north"]
    assert {doc.content for doc, _ in hybrid} == {"north", "gradient checkpointing saves memory"}
    # Filters apply to both halves of a hybrid search.
    assert (
        vector_index.search(
            EmbeddedArticleChunk, [1.0, 0.0, 0.0], sparse_query=query_vector("memory"), author_id=AUTHOR_B
        )
        == []
    )


def test_a_collection_from_before_hybrid_search_is_rebuilt_with_every_point(vector_store, vector_index):
    from llm_engineering.application.preprocessing.feature_store import add_keyword_indexes
    from llm_engineering.domain.exceptions import VectorStoreSchemaError

    vector_store.ensure_collection("embedded_articles", 3)  # the old layout: dense vectors only
    # Unit vectors: a cosine collection stores vectors normalised.
    old = [_chunk(f"passage {i} on quantization", [math.cos(i / 5), math.sin(i / 5), 0.0]) for i in range(5)]
    vector_store.upsert("embedded_articles", [p.__class__(p.id, p.payload, p.vector) for p in map(_point, old)])
    assert not vector_index.has_sparse_index(EmbeddedArticleChunk)
    with pytest.raises(VectorStoreSchemaError, match="run-feature-engineering-pipeline"):
        vector_index.bulk_insert(EmbeddedArticleChunk, old[:1])

    assert add_keyword_indexes(vector_index, batch_size=2) == {"embedded_articles": 5}
    assert vector_index.has_sparse_index(EmbeddedArticleChunk) and vector_index.count(EmbeddedArticleChunk) == 5
    rebuilt = {str(c.id): c for c in vector_index.find_all(EmbeddedArticleChunk, with_vectors=True)}
    assert rebuilt.keys() == {str(c.id) for c in old}
    assert all(rebuilt[str(c.id)].embedding == pytest.approx(c.embedding) for c in old)
    assert add_keyword_indexes(vector_index) == {}  # idempotent


def _point(chunk: EmbeddedArticleChunk):
    return chunk.to_point()
