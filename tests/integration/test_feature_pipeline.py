"""The feature pipeline's application layer on a real nx-27017 warehouse and Qdrant local mode."""

from __future__ import annotations

import uuid

import pytest

from llm_engineering.application.preprocessing.feature_engineering import (
    ALL_AUTHORS,
    GIVEN_AUTHORS,
    NoAuthorsFoundError,
    chunk_and_embed,
    clean_documents,
    prune_deleted_features,
    query_warehouse,
)
from llm_engineering.application.preprocessing.feature_store import load_documents
from llm_engineering.domain.base.nosql import DocumentRepository
from llm_engineering.domain.base.vector import VectorIndex
from llm_engineering.domain.cleaned_documents import (
    CleanedArticleDocument,
    CleanedPostDocument,
    CleanedRepositoryDocument,
)
from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument, UserDocument
from llm_engineering.domain.embedded_chunks import (
    EmbeddedArticleChunk,
    EmbeddedPostChunk,
    EmbeddedRepositoryChunk,
)
from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder

pytestmark = pytest.mark.integration

TOPICS = [
    ("vector databases", "Qdrant stores dense vectors next to a JSON payload and filters on it while searching."),
    ("chunking", "Splitting documents into pieces that fit the embedding model keeps every word searchable."),
    ("fine-tuning", "Supervised fine-tuning teaches a base model to follow instructions with curated pairs."),
    ("preference alignment", "Direct preference optimisation learns from chosen and rejected answers."),
    ("quantization", "Four-bit weights shrink a model so that it runs on a single consumer GPU."),
    ("evaluation", "A judge model scores answers for accuracy and style against a rubric."),
]


def article_text(paragraphs_per_topic: int = 3) -> str:
    """A markdown article of several thousand characters about distinct topics, with code and a link."""
    parts = ["# Building an LLM twin", ""]
    for topic, sentence in TOPICS:
        parts += [f"## About {topic}", ""]
        for index in range(paragraphs_per_topic):
            parts += [
                (
                    f"{sentence} This is paragraph {index + 1} on {topic}, written for the fixture. "
                    f"It explains why {topic} matters 🚀 and links to https://example.org/{topic.replace(' ', '-')}."
                ),
                "",
            ]
    parts += ["```", "def embed(texts):", "    return model.encode(texts)", "```"]
    return "\n".join(parts)


def seed_fixture_documents(documents: DocumentRepository) -> dict[str, object]:
    """Two authors; Ada has an article, a post and a repository, Linus one article."""
    ada = documents.save(UserDocument(first_name="Ada", last_name="Lovelace"))
    linus = documents.save(UserDocument(first_name="Linus", last_name="Torvalds"))
    article = documents.save(
        ArticleDocument(
            content={"Title": "Building an LLM twin", "Subtitle": "None", "Content": article_text(), "language": "en"},
            platform="blog",
            link="https://ada.example.org/llm-twin",
            author_id=ada.id,
            author_full_name=ada.full_name,
        )
    )
    post = documents.save(
        PostDocument(
            content={"text": "Shipping the feature pipeline today! Incremental runs only embed what changed. ✨"},
            platform="linkedin",
            author_id=ada.id,
            author_full_name=ada.full_name,
        )
    )
    repository = documents.save(
        RepositoryDocument(
            content={
                "README.md": "# twin\n\nA tiny repository used as a fixture.\n",
                "twin/chunking.py": "def chunk(text, size):\n    return [text[i : i + size] for i in range(0, len(text), size)]\n",
            },
            name="twin",
            platform="github",
            link="https://github.example.org/ada/twin",
            author_id=ada.id,
            author_full_name=ada.full_name,
        )
    )
    other = documents.save(
        ArticleDocument(
            content={"Title": "Kernel notes", "Content": "Git was written in a few weeks. " * 40},
            platform="blog",
            link="https://linus.example.org/kernel",
            author_id=linus.id,
            author_full_name=linus.full_name,
        )
    )
    return {"ada": ada, "linus": linus, "article": article, "post": post, "repository": repository, "other": other}


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(batch_size=16)


def run_features(documents: DocumentRepository, index: VectorIndex, names: list[str], embedder, incremental=True):
    snapshot = query_warehouse(documents, names)
    cleaned = clean_documents(snapshot.documents)
    load_documents(index, cleaned.documents)
    result = chunk_and_embed(index, cleaned.documents, embedder, incremental=incremental)
    report = load_documents(index, result.chunks)
    return snapshot, cleaned, result, report


def store_counts(index: VectorIndex) -> dict[str, int]:
    classes = (
        CleanedArticleDocument,
        CleanedPostDocument,
        CleanedRepositoryDocument,
        EmbeddedArticleChunk,
        EmbeddedPostChunk,
        EmbeddedRepositoryChunk,
    )
    return {cls.get_collection_name(): index.count(cls) for cls in classes}


def test_full_run_then_rerun_embeds_nothing_and_adds_no_points(documents, vector_index, embedder):
    seeded = seed_fixture_documents(documents)
    snapshot, cleaned, result, report = run_features(
        documents, vector_index, ["Ada Lovelace", "Linus Torvalds", "Grace Hopper"], embedder
    )

    assert snapshot.missing_authors == ["Grace Hopper"]
    assert documents.count(UserDocument) == 2  # the unknown author was not created
    assert len(snapshot.documents) == 4 and cleaned.failures == []
    assert report.failed_batches == 0 and result.failed_documents == {}
    counts = store_counts(vector_index)
    assert counts["cleaned_articles"] == 2 and counts["cleaned_posts"] == 1 and counts["cleaned_repositories"] == 1
    assert counts["embedded_articles"] >= 4  # the fixture article alone is several chunks long
    assert counts["embedded_posts"] == 1 and counts["embedded_repositories"] >= 1

    # Payload carries what retrieval needs; vectors are unit-length 384-d.
    chunk = vector_index.find_all(EmbeddedArticleChunk, document_id=str(seeded["article"].id))[0]
    assert chunk.author_full_name == "Ada Lovelace" and chunk.link == "https://ada.example.org/llm-twin"
    assert chunk.metadata["embedding_model_id"] == embedder.model_id
    assert chunk.metadata["token_count"] <= 256 and "feature_hash" in chunk.metadata
    query = embedder.embed(["Direct preference optimisation with chosen and rejected answers"])[0]
    best = vector_index.search(EmbeddedArticleChunk, query, limit=1, author_full_name="Ada Lovelace")[0]
    assert "preference" in best.content
    assert len(vector_index.retrieve(EmbeddedArticleChunk, [best.id], with_vectors=True)[0].embedding) == 384

    # Re-run: every document is unchanged, nothing is embedded and no point is added.
    _, _, again, report_again = run_features(documents, vector_index, ["Ada Lovelace", "Linus Torvalds"], embedder)
    assert again.chunks == [] and again.chunked == []
    assert len(again.skipped_unchanged) == 4
    assert report_again.points_written == 0
    assert store_counts(vector_index) == counts

    # A full (non-incremental) re-run upserts the same ids: still no new points.
    _, _, full, _ = run_features(
        documents, vector_index, ["Ada Lovelace", "Linus Torvalds"], embedder, incremental=False
    )
    assert len(full.chunks) == sum(v for k, v in counts.items() if k.startswith("embedded_"))
    assert store_counts(vector_index) == counts


def test_changed_document_is_re_embedded_and_leaves_no_stale_chunks(documents, vector_index, embedder):
    seeded = seed_fixture_documents(documents)
    run_features(documents, vector_index, ["Ada Lovelace"], embedder)
    article = seeded["article"]
    before = {chunk.id for chunk in vector_index.find_all(EmbeddedArticleChunk, document_id=str(article.id))}

    shorter = {**article.content, "Content": "A much shorter article now. It has only two sentences."}
    documents.delete(ArticleDocument, id=article.id)
    documents.save(ArticleDocument(**{**article.model_dump(), "content": shorter}))
    _, _, result, report = run_features(documents, vector_index, ["Ada Lovelace"], embedder)

    assert result.embedded_documents == [str(article.id)]
    assert len(result.skipped_unchanged) == 2  # the post and the repository
    after = vector_index.find_all(EmbeddedArticleChunk, document_id=str(article.id))
    assert len(after) == 1 and "much shorter" in after[0].content
    assert report.collections["embedded_articles"].stale_points_removed == len(before) - (
        1 if after[0].id in before else 0
    )
    assert vector_index.retrieve(CleanedArticleDocument, [article.id])[0].content.startswith("Building an LLM twin")


def test_prune_removes_only_deleted_documents_of_the_given_authors(documents, vector_index, embedder):
    seeded = seed_fixture_documents(documents)
    run_features(documents, vector_index, ["Ada Lovelace", "Linus Torvalds"], embedder)
    documents.delete(PostDocument, id=seeded["post"].id)
    documents.delete(ArticleDocument, id=seeded["other"].id)  # Linus's article, but we prune for Ada only

    report = prune_deleted_features(documents, vector_index, ["Ada Lovelace"])

    assert report.removed == {
        "cleaned_posts": 1,
        "embedded_posts": 1,
        "cleaned_articles": 0,
        "embedded_articles": 0,
        "cleaned_repositories": 0,
        "embedded_repositories": 0,
    }
    assert vector_index.count(CleanedPostDocument) == 0 and vector_index.count(EmbeddedPostChunk) == 0
    assert vector_index.count(EmbeddedArticleChunk, document_id=str(seeded["other"].id)) > 0


def test_unknown_authors_only_is_a_clear_error_and_creates_nobody(documents, vector_index):
    with pytest.raises(NoAuthorsFoundError, match="Grace Hopper"):
        query_warehouse(documents, ["Grace Hopper"])
    # No name at all means all authors; an empty warehouse has none, which is a clear error too.
    for no_names in (None, [], ["", "  "]):
        with pytest.raises(NoAuthorsFoundError, match="No author given and the data warehouse has no authors"):
            query_warehouse(documents, no_names)
    assert documents.count(UserDocument) == 0


def test_no_author_list_means_every_author_in_the_warehouse(documents, vector_index):
    seeded = seed_fixture_documents(documents)
    newcomer = documents.save(UserDocument(first_name="Jane Q", last_name="Public"))  # crawled, in no config
    documents.save(
        ArticleDocument(
            content={"Title": "My own notes", "Content": "Retrieval works on my own writing too. " * 20},
            platform="janedoe.dev",
            link="https://janedoe.dev/notes",
            author_id=newcomer.id,
            author_full_name=newcomer.full_name,
        )
    )

    for no_names in (None, [], ["", " "]):
        snapshot = query_warehouse(documents, no_names)
        assert snapshot.authors_from == ALL_AUTHORS
        assert snapshot.authors == {
            "Ada Lovelace": str(seeded["ada"].id),
            "Jane Q Public": str(newcomer.id),
            "Linus Torvalds": str(seeded["linus"].id),
        }
        assert len(snapshot.documents) == 5 and snapshot.missing_authors == [] and snapshot.failed_queries == []

    named = query_warehouse(documents, ["Jane Q Public", "Grace Hopper"])
    assert named.authors_from == GIVEN_AUTHORS
    assert named.authors == {"Jane Q Public": str(newcomer.id)} and named.missing_authors == ["Grace Hopper"]
    assert [document.link for document in named.documents] == ["https://janedoe.dev/notes"]
    assert documents.count(UserDocument) == 3  # the unknown author was not created


def test_prune_without_author_list_covers_every_author(documents, vector_index, embedder):
    seeded = seed_fixture_documents(documents)
    run_features(documents, vector_index, [], embedder)
    documents.delete(PostDocument, id=seeded["post"].id)  # Ada's
    documents.delete(ArticleDocument, id=seeded["other"].id)  # Linus's

    report = prune_deleted_features(documents, vector_index, None)

    assert report.removed["cleaned_posts"] == 1 and report.removed["cleaned_articles"] == 1
    assert vector_index.count(EmbeddedPostChunk) == 0
    assert vector_index.count(EmbeddedArticleChunk, document_id=str(seeded["other"].id)) == 0
    assert vector_index.count(EmbeddedArticleChunk, document_id=str(seeded["article"].id)) > 0


def test_a_failed_batch_is_recorded_and_the_rest_loads(documents, vector_index, embedder):
    seed_fixture_documents(documents)
    snapshot = query_warehouse(documents, ["Ada Lovelace"])
    cleaned = clean_documents(snapshot.documents).documents
    result = chunk_and_embed(vector_index, cleaned, embedder, incremental=False)
    # Make the post's chunks unloadable: create its 384-d collection, then offer it 7-d vectors.
    vector_index.bulk_insert(EmbeddedPostChunk, [c for c in result.chunks if isinstance(c, EmbeddedPostChunk)])
    broken = [
        c.model_copy(update={"embedding": [0.1] * 7}) if isinstance(c, EmbeddedPostChunk) else c for c in result.chunks
    ]
    report = load_documents(vector_index, broken, batch_size=1)
    assert report.collections["embedded_posts"].failed_batches[0]["documents"] == [
        str(next(c.document_id for c in broken if isinstance(c, EmbeddedPostChunk)))
    ]
    assert report.collections["embedded_articles"].points_written > 0
    assert vector_index.count(EmbeddedRepositoryChunk) > 0
    assert report.failed_document_ids == report.collections["embedded_posts"].failed_batches[0]["documents"]
    assert uuid.UUID(report.failed_document_ids[0])


def test_prune_refuses_when_the_warehouse_cannot_be_read_completely(documents, vector_index, embedder, monkeypatch):
    from llm_engineering.application import errors
    from llm_engineering.domain.exceptions import WarehouseOperationError

    seed_fixture_documents(documents)
    run_features(documents, vector_index, ["Ada Lovelace"], embedder)
    before = store_counts(vector_index)
    bulk_find = documents.bulk_find

    def broken(document_class, *args, **kwargs):
        if document_class is PostDocument:
            raise WarehouseOperationError("posts collection unreadable")
        return bulk_find(document_class, *args, **kwargs)

    monkeypatch.setattr(documents, "bulk_find", broken)
    with pytest.raises(errors.IncompleteWarehouseReadError, match="posts"):
        prune_deleted_features(documents, vector_index, ["Ada Lovelace"])
    assert store_counts(vector_index) == before
