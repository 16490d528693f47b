import uuid

import pytest

from llm_engineering.application.rag.query_expansion import QueryExpansion
from llm_engineering.application.rag.reranking import EmbeddingReranker
from llm_engineering.application.rag.retriever import ContextRetriever
from llm_engineering.application.rag.self_query import SelfQuery
from llm_engineering.domain.base.vector import VectorIndex
from llm_engineering.domain.documents import UserDocument
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk, EmbeddedPostChunk
from llm_engineering.domain.prompts import QUERY_EXPANSION_SEPARATOR
from llm_engineering.infrastructure.db.qdrant import QdrantVectorStore
from tests.unit.application.rag.fakes import BagOfWordsEmbedder, ScriptedLLM

MARA = UserDocument(id=uuid.uuid4(), first_name="Mara", last_name="Quillon")
OTTO = UserDocument(id=uuid.uuid4(), first_name="Otto", last_name="Brandt")

TEXTS = {
    MARA: [
        "reranking scores retrieved passages against the question with a cross encoder",
        "chunking along headings and paragraphs keeps passages coherent",
        "a local first stack runs the document store and vector index on a laptop",
    ],
    OTTO: [
        "reranking passages matters for search quality in retrieval systems",
        "sourdough bread needs a long cold fermentation",
    ],
}


@pytest.fixture
def store():
    memory = QdrantVectorStore(path=":memory:")
    index = VectorIndex(memory)
    embedder = BagOfWordsEmbedder()
    for user, texts in TEXTS.items():
        chunks = [
            EmbeddedArticleChunk(
                content=text,
                embedding=vector,
                platform="blog",
                document_id=uuid.uuid4(),
                author_id=user.id,
                author_full_name=user.full_name,
                link=f"https://blog.example/{user.last_name}/{i}",
            )
            for i, (text, vector) in enumerate(zip(texts, embedder.embed(texts), strict=True))
        ]
        index.bulk_insert(EmbeddedArticleChunk, chunks)
    yield memory
    memory.close()


def _users(first: str, last: str):
    return next((u for u in (MARA, OTTO) if (u.first_name, u.last_name) == (first, last)), None)


def _retriever(store, llm, **options):
    embedder = BagOfWordsEmbedder()
    return ContextRetriever(
        index=VectorIndex(store),
        embedder=embedder,
        reranker=EmbeddingReranker(embedder),
        self_query=SelfQuery(llm, find_user=_users),
        query_expansion=QueryExpansion(llm),
        **options,
    )


def test_author_filter_expansion_dedup_and_rerank(store):
    llm = ScriptedLLM(
        "Mara Quillon",
        f"why rerank retrieved passages? {QUERY_EXPANSION_SEPARATOR} how do cross encoder scores rank passages?",
    )
    result = _retriever(store, llm).search_with_trace(
        "I am Mara Quillon: reranking retrieved passages with a cross encoder", k=3
    )
    assert {item.chunk.author_id for item in result.chunks} == {MARA.id}
    assert result.chunks[0].chunk.content.startswith("reranking scores")
    scores = [item.score for item in result.chunks]
    assert scores == sorted(scores, reverse=True)
    assert len({item.chunk.id for item in result.chunks}) == len(result.chunks)
    trace = result.trace
    assert trace["author_full_name"] == "Mara Quillon"
    assert len(trace["queries"]) == 3
    # Three queries found overlapping chunks; duplicates are removed before reranking.
    assert trace["num_candidates"] > trace["num_unique_candidates"] == 3
    assert trace["collections"] == {"embedded_articles": trace["num_candidates"]}
    # Hybrid search: the bi-encoder would only re-sort by the dense half, so the fused order stands.
    assert trace["search"] == {"embedded_articles": "hybrid"}
    assert trace["paths"]["search"] == "hybrid"
    assert trace["reranker"] == "fusion (dense + keyword)"
    assert trace["query_expansion"]["status"] == "expanded"


def test_dense_mode_reranks_with_the_bi_encoder(store):
    result = _retriever(store, None, search_mode="dense").search_with_trace("reranking passages", k=2)
    assert result.trace["search"] == {"embedded_articles": "dense"}
    assert result.trace["reranker"] == "bi-encoder:fake/bag-of-words"


def test_weak_llm_output_falls_back_to_the_plain_query_over_all_authors(store):
    llm = ScriptedLLM("### Response:", "### Response:")
    result = _retriever(store, llm).search_with_trace("reranking passages", k=2)
    assert result.trace["self_query"]["status"] == "fallback"
    assert result.trace["query_expansion"]["status"] == "fallback"
    assert result.trace["queries"] == ["reranking passages"]
    # One query after the fallback still fetches the N x k budget (2 x 3 = 6; the store holds 5) for the reranker.
    assert result.trace["num_candidates"] == 5
    assert {item.chunk.author_full_name for item in result.chunks} == {"Mara Quillon", "Otto Brandt"}


class CallCounter:
    """The real store, counting the calls made through it."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: dict[str, int] = {}

    def __getattr__(self, name):
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def counted(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            return attribute(*args, **kwargs)

        return counted


def test_the_budget_is_filled_by_score_across_collections_in_one_round_trip(store):
    post = EmbeddedPostChunk(
        content="a post about reranking passages",
        embedding=BagOfWordsEmbedder().embed(["a post about reranking passages"])[0],
        platform="linkedin",
        document_id=uuid.uuid4(),
        author_id=MARA.id,
        author_full_name=MARA.full_name,
    )
    VectorIndex(store).bulk_insert(EmbeddedPostChunk, [post])
    spy = CallCounter(store)
    retriever = _retriever(spy, None, candidate_pool=1)
    result = retriever.search_with_trace("reranking passages", k=4, expand_to_n_queries=1)
    assert result.trace["collections"]["embedded_posts"] == 1
    assert sum(result.trace["collections"].values()) == 4
    assert result.trace["self_query"]["status"] == "skipped"
    # One search per collection, vectors included: no count() per request, no second fetch to re-score.
    assert spy.calls.get("count", 0) == 0 and spy.calls.get("retrieve", 0) == 0
    assert spy.calls["search"] == 2  # posts and articles; the repositories collection does not exist
    before = dict(spy.calls)
    retriever.search_with_trace("reranking passages", k=4, expand_to_n_queries=1)
    # The second request trusts the cached list of collections: searches only (the adapter answers
    # `collection_exists` from its own cache for collections it has seen).
    delta = {name: n - before.get(name, 0) for name, n in spy.calls.items() if n != before.get(name, 0)}
    assert delta["search"] == 2 and set(delta) <= {"search", "collection_exists", "has_sparse_index"}


def test_empty_store_returns_nothing_and_bad_arguments_are_errors():
    memory = QdrantVectorStore(path=":memory:")
    try:
        retriever = _retriever(memory, None)
        assert retriever.search("anything", k=3) == []
        with pytest.raises(ValueError):
            retriever.search("   ")
        with pytest.raises(ValueError):
            retriever.search("x", k=0)
        with pytest.raises(ValueError):
            retriever.search("x", expand_to_n_queries=0)
    finally:
        memory.close()


def test_unavailable_llm_in_self_query_skips_the_expansion_call(store):
    from llm_engineering.application.errors import LLMUnavailableError

    llm = ScriptedLLM(LLMUnavailableError("connection refused"))
    result = _retriever(store, llm).search_with_trace("reranking passages", k=2)
    assert len(llm.prompts) == 1
    assert result.trace["query_expansion"]["reason"] == "LLM unavailable (self-query failed)"
    assert result.chunks


def test_bi_encoder_rerank_from_stored_vectors_equals_re_embedding(store):
    embedder = BagOfWordsEmbedder()
    retriever = _retriever(store, None, search_mode="dense", document_support_weight=None)
    result = retriever.search_with_trace("reranking retrieved passages", k=3, expand_to_n_queries=1)
    texts = [item.chunk.content for item in result.chunks]
    expected = EmbeddingReranker(embedder).score("reranking retrieved passages", texts)
    assert [round(item.score, 6) for item in result.chunks] == [round(score, 6) for score in expected]


class ConstantEmbedder(BagOfWordsEmbedder):
    """Every text gets the same vector: the embedding does not see what a passage is about, keywords do."""

    def embed(self, texts, batch_size=None):
        return [[1.0] + [0.0] * (self.dimension - 1) for _ in texts]


def _unit(index: int, size: int) -> list[float]:
    return [1.0 if i == index else 0.0 for i in range(size)]


def test_hybrid_search_finds_by_keyword_what_the_embedding_cannot(store):
    embedder = ConstantEmbedder()
    texts = [f"filler passage number {i} about cooking pasta" for i in range(30)] + ["qlora adapters on gemma"]
    VectorIndex(store).bulk_insert(
        EmbeddedArticleChunk,
        [
            EmbeddedArticleChunk(
                content=text,
                embedding=vector,
                platform="blog",
                document_id=uuid.uuid4(),
                author_id=OTTO.id,
                author_full_name=OTTO.full_name,
                link=f"https://blog.example/otto/filler/{i}",
            )
            # The passage about the query's subject is the one the embedding places furthest from it.
            for i, (text, vector) in enumerate(
                zip(texts, [*embedder.embed(texts[:-1]), _unit(1, embedder.dimension)], strict=True)
            )
        ],
    )

    def top(mode):
        retriever = ContextRetriever(
            index=VectorIndex(store),
            embedder=embedder,
            reranker=EmbeddingReranker(embedder),
            self_query=SelfQuery(None),
            query_expansion=QueryExpansion(None),
            search_mode=mode,
            hybrid_candidates=5,
            candidate_pool=5,
        )
        return [item.chunk.content for item in retriever.search_with_trace("QLoRA adapters", k=3).chunks]

    assert "qlora adapters on gemma" in top("hybrid")
    assert "qlora adapters on gemma" not in top("dense")


def test_collections_without_a_keyword_index_fall_back_to_dense_and_say_so():
    memory = QdrantVectorStore(path=":memory:")
    try:
        embedder = BagOfWordsEmbedder()
        memory.ensure_collection("embedded_articles", embedder.dimension)  # as before hybrid search
        chunk = EmbeddedArticleChunk(
            content="reranking passages",
            embedding=embedder.embed(["reranking passages"])[0],
            platform="blog",
            document_id=uuid.uuid4(),
            author_id=MARA.id,
            author_full_name=MARA.full_name,
            link="https://blog.example/old",
        )
        memory.upsert(
            "embedded_articles", [chunk.to_point().__class__(**{**chunk.to_point().__dict__, "sparse_vector": None})]
        )
        result = _retriever(memory, None).search_with_trace("reranking passages", k=1)
        assert result.chunks[0].chunk.content == "reranking passages"
        assert result.trace["search"] == {"embedded_articles": "dense"}
        assert "no keyword index" in result.trace["paths"]["search"]
    finally:
        memory.close()


def test_invalid_search_options_are_errors(store):
    with pytest.raises(ValueError, match="search_mode"):
        _retriever(store, None, search_mode="sparse")
    with pytest.raises(ValueError, match="candidate"):
        _retriever(store, None, candidate_pool=0)
