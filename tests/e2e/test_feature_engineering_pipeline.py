"""The ZenML feature pipeline end to end: nx-27017 warehouse -> Qdrant local mode, run twice."""

from __future__ import annotations

import pytest

from llm_engineering.domain.cleaned_documents import CleanedArticleDocument, CleanedPostDocument
from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk, EmbeddedRepositoryChunk
from tests.integration.test_feature_pipeline import seed_fixture_documents, store_counts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _step_metadata(run, step_name: str, artifact: str) -> dict:
    return dict(run.steps[step_name].outputs[artifact][0].run_metadata)


def test_pipeline_loads_both_snapshots_then_rerun_embeds_nothing(documents, vector_index):
    from pipelines.feature_engineering import feature_engineering

    seeded = seed_fixture_documents(documents)
    names = ["Ada Lovelace", "Linus Torvalds", "Grace Hopper"]

    first = feature_engineering.with_options(enable_cache=False)(author_full_names=names)
    assert first.status == "completed"
    raw_meta = _step_metadata(first, "query_data_warehouse", "raw_documents")
    assert raw_meta["num_documents"] == 4 and raw_meta["missing_authors"] == ["Grace Hopper"]
    assert raw_meta["articles"]["authors"] == {"Ada Lovelace": 1, "Linus Torvalds": 1}
    embed_meta = _step_metadata(first, "chunk_and_embed", "embedded_documents")
    assert embed_meta["num_documents_embedded"] == 4
    assert embed_meta["embedding"]["articles"]["embedding_model_id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert embed_meta["chunking"]["articles"]["max_chunk_tokens"] <= 256
    loaded = first.steps["load_embedded_chunks"].outputs["loaded"][0].load()
    assert loaded["successful"] and loaded["failed_batches"] == 0

    counts = store_counts(vector_index)
    assert counts["cleaned_articles"] == 2 and vector_index.count(CleanedPostDocument) == 1
    assert counts["embedded_articles"] == embed_meta["chunking"]["articles"]["num_chunks"]
    assert vector_index.count(EmbeddedRepositoryChunk, author_full_name="Ada Lovelace") >= 1
    # The embedded artifact round-trips through ZenML's artifact store as typed chunks.
    artifact = first.steps["chunk_and_embed"].outputs["embedded_documents"][0].load()
    assert {type(chunk).__name__ for chunk in artifact} == {
        "EmbeddedArticleChunk",
        "EmbeddedPostChunk",
        "EmbeddedRepositoryChunk",
    }

    second = feature_engineering.with_options(enable_cache=False)(author_full_names=names[:2], prune_deleted=True)
    assert second.status == "completed"
    again = _step_metadata(second, "chunk_and_embed", "embedded_documents")
    assert again["num_documents_embedded"] == 0 and again["num_documents_skipped_unchanged"] == 4
    assert again["num_chunks"] == 0
    assert _step_metadata(second, "prune_vector_db", "pruned")["num_points_removed"] == 0
    assert store_counts(vector_index) == counts
    assert (
        vector_index.retrieve(CleanedArticleDocument, [seeded["article"].id])[0].link
        == "https://ada.example.org/llm-twin"
    )
    assert vector_index.count(EmbeddedArticleChunk, document_id=str(seeded["article"].id)) >= 4


def test_new_author_in_no_config_is_embedded_by_a_run_with_no_author_list(documents, vector_index):
    """A user crawls their own author, then runs the feature pipeline as shipped: nothing to edit."""
    from click.testing import CliRunner
    from zenml.client import Client

    from llm_engineering.domain.documents import ArticleDocument, UserDocument
    from tools import run

    seed_fixture_documents(documents)
    jane = documents.save(UserDocument(first_name="Jane Q", last_name="Public"))
    documents.save(
        ArticleDocument(
            content={"Title": "My own notes", "Content": "I write about retrieval on my own notes. " * 30},
            platform="janedoe.dev",
            link="https://janedoe.dev/notes",
            author_id=jane.id,
            author_full_name=jane.full_name,
        )
    )

    # What `poetry run poe run-feature-engineering-pipeline` runs, with the shipped configs/feature_engineering.yaml.
    result = CliRunner().invoke(run.main, ["--no-cache", "--run-feature-engineering"])

    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "all authors in the warehouse" in result.output
    last = Client().get_pipeline("feature_engineering").last_run
    assert last.status == "completed"
    raw_meta = _step_metadata(last, "query_data_warehouse", "raw_documents")
    assert raw_meta["authors_from"] == "all authors"
    assert set(raw_meta["authors"]) == {"Ada Lovelace", "Jane Q Public", "Linus Torvalds"}
    assert raw_meta["articles"]["authors"]["Jane Q Public"] == 1
    assert vector_index.count(EmbeddedArticleChunk, author_full_name="Jane Q Public") >= 1

    # --authors narrows a run to one author (the others are already embedded and untouched).
    result = CliRunner().invoke(run.main, ["--no-cache", "--run-feature-engineering", "--authors", "Jane Q Public"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    again = Client().get_pipeline("feature_engineering").last_run
    again_meta = _step_metadata(again, "query_data_warehouse", "raw_documents")
    assert again_meta["authors_from"] == "given names" and list(again_meta["authors"]) == ["Jane Q Public"]
    assert _step_metadata(again, "chunk_and_embed", "embedded_documents")["num_documents_skipped_unchanged"] == 1
