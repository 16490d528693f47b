"""The OpenVINO embedder against the torch one on the packaged all-MiniLM-L6-v2 (no hub, no network).

The model is exported once per session into a temporary cache; the torch embedder is the reference.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from loguru import logger

from llm_engineering import bootstrap
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure import openvino_export
from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder
from llm_engineering.infrastructure.errors import UnsupportedEmbeddingModel
from llm_engineering.infrastructure.openvino_embeddings import OpenVINOEmbedder, openvino_installed
from llm_engineering.infrastructure.openvino_export import model_files, model_fingerprint
from llm_engineering.settings import load_settings
from tests.conftest import PROJECT_ROOT

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
DEMO_ARTICLES = PROJECT_ROOT / "data" / "demo" / "articles"
needs_openvino = pytest.mark.skipif(
    not openvino_installed(), reason="the openvino runtime is not installed (it is a main dependency: poetry install)"
)


def demo_paragraphs() -> list[str]:
    """The demo articles' paragraphs (front matter dropped): handbook-like prose of various lengths."""
    paragraphs = []
    for path in sorted(DEMO_ARTICLES.glob("*.md")):
        body = path.read_text(encoding="utf-8").split("---", 2)[-1]
        paragraphs += [" ".join(part.split()) for part in body.split("\n\n") if part.strip()]
    return paragraphs


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedding-exports")


@pytest.fixture(scope="module")
def openvino_embedder(cache_dir: Path) -> OpenVINOEmbedder:
    if not openvino_installed():
        pytest.skip("the openvino runtime is not installed")
    embedder = OpenVINOEmbedder(MINILM, cache_dir=cache_dir, batch_size=8)
    embedder.embed(["warm-up"])
    return embedder


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(MINILM, batch_size=8)


def cosines(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return (first * second).sum(axis=1)


@needs_openvino
@pytest.mark.slow
def test_vectors_match_the_torch_embedder_on_handbook_like_text(openvino_embedder, torch_embedder):
    paragraphs = demo_paragraphs()
    assert len(paragraphs) >= 15
    # Whole paragraphs, their first sentences (query-sized), and edge cases: empty, one word, an acronym,
    # and a text past the model's 256-token window.
    texts = paragraphs + [paragraph.split(". ")[0] for paragraph in paragraphs] + ["", "a", "RAG", "token " * 600]
    ours = openvino_embedder.embed_array(texts)
    reference = torch_embedder.embed_array(texts)
    assert ours.dtype == np.float32 and ours.shape == reference.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cosines(ours, reference).min() >= 0.999
    assert openvino_embedder.active_backend == "openvino"


@needs_openvino
@pytest.mark.slow
def test_batch_size_does_not_change_vectors_or_their_order(openvino_embedder):
    texts = demo_paragraphs()[:13]
    one_by_one = np.stack([openvino_embedder.embed_array([text])[0] for text in texts])
    for batch_size in (1, 3, 8, 64):
        batched = openvino_embedder.embed_array(texts, batch_size=batch_size)
        assert cosines(batched, one_by_one).min() >= 0.9995, batch_size  # only padding widths differ
    as_lists = openvino_embedder.embed(texts[:2])
    assert len(as_lists) == 2 and len(as_lists[0]) == 384 and isinstance(as_lists[0][0], float)


@needs_openvino
@pytest.mark.slow
def test_empty_input_and_a_single_string(openvino_embedder):
    assert openvino_embedder.embed([]) == []
    assert openvino_embedder.embed_array([]).shape == (0, 384)
    with pytest.raises(TypeError, match="sequence of texts"):
        openvino_embedder.embed_array("not a list")


@needs_openvino
@pytest.mark.slow
def test_tokens_and_sizes_are_the_torch_embedders(openvino_embedder, torch_embedder):
    assert openvino_embedder.dimension == torch_embedder.dimension == 384
    assert openvino_embedder.max_input_tokens == torch_embedder.max_input_tokens == 256
    assert openvino_embedder.model_id == MINILM and openvino_embedder.device == "cpu"
    for text in ["hello world", "", "token " * 600, *demo_paragraphs()[:5]]:
        assert openvino_embedder.token_ids(text) == torch_embedder.token_ids(text)
        assert openvino_embedder.count_tokens(text) == torch_embedder.count_tokens(text)


@needs_openvino
@pytest.mark.slow
def test_a_second_embedder_loads_the_cached_export(openvino_embedder, cache_dir, monkeypatch):
    assert openvino_embedder.export.folder.parent == cache_dir
    assert (openvino_embedder.export.folder / "embedder.json").is_file()

    def no_export(*_: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(openvino_export, "export", no_export)
    second = OpenVINOEmbedder(MINILM, cache_dir=cache_dir)
    vector = second.embed_array(["vector search"])
    assert second.export.folder == openvino_embedder.export.folder
    assert second.export.exported_in_s is None  # read, not exported
    assert cosines(vector, openvino_embedder.embed_array(["vector search"]))[0] > 0.9999


@needs_openvino
@pytest.mark.slow
def test_a_cached_export_loads_without_torch(openvino_embedder, cache_dir):
    probe = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from llm_engineering.infrastructure.openvino_embeddings import OpenVINOEmbedder\n"
        f"e = OpenVINOEmbedder({MINILM!r}, cache_dir=Path({str(cache_dir)!r}))\n"
        "e.embed(['a query'])\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'transformers': 'transformers' in sys.modules,"
        " 'telemetry': 'openvino_telemetry' in sys.modules}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Neither torch nor transformers is imported, and OpenVINO's converter telemetry is never loaded.
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "torch": False,
        "transformers": False,
        "telemetry": False,
    }


@needs_openvino
def test_the_converter_reports_nothing_unless_the_user_opted_in(monkeypatch):
    monkeypatch.delenv("LLM_TWIN_ALLOW_VENDOR_TELEMETRY", raising=False)
    openvino_export.import_openvino()
    from openvino.tools.ovc import telemetry_stub

    converters = [module for name, module in sys.modules.items() if name.startswith("openvino.tools.ovc")]
    assert all(getattr(module, "tm", telemetry_stub) is telemetry_stub for module in converters)


# --- Fingerprint and fallback (no runtime needed) ---------------------------------------------------------
def fake_model(folder: Path) -> Path:
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "modules.json").write_text(json.dumps([{"path": ""}, {"path": "1_Pooling"}]))
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "pytorch_model.bin").write_bytes(b"the same weights, another format")
    (folder / "README.md").write_text("about the model")
    return folder


def test_the_fingerprint_follows_the_model_files_only(tmp_path):
    model = fake_model(tmp_path / "model")
    names = [path.relative_to(model).as_posix() for path in model_files(model)]
    assert names == ["1_Pooling/config.json", "config.json", "model.safetensors", "modules.json"]
    before = model_fingerprint(model)
    (model / "README.md").write_text("edited")
    assert model_fingerprint(model) == before
    moved = model.rename(tmp_path / "elsewhere")
    assert model_fingerprint(moved) == before
    (moved / "model.safetensors").write_bytes(b"new weights")
    assert model_fingerprint(moved) != before


class FakeEmbedder:
    model_id = MINILM
    dimension = 3
    max_input_tokens = 7

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed(self, texts, batch_size=None):  # type: ignore[no-untyped-def]
        return [[1.0, 0.0, 0.0] for _ in texts]

    def embed_array(self, texts, batch_size=None, show_progress=False):  # type: ignore[no-untyped-def]
        return np.array(self.embed(texts), dtype=np.float32)


@pytest.fixture
def failing_export(monkeypatch: pytest.MonkeyPatch) -> None:
    def unsupported(*_: object) -> None:
        raise UnsupportedEmbeddingModel(
            "only Transformer -> mean Pooling -> (Normalize) models are exported, got [CLS]"
        )

    monkeypatch.setattr(openvino_export, "exported_model", unsupported)


def test_a_model_that_does_not_export_falls_back_with_one_log_line(failing_export, tmp_path):
    messages: list[str] = []
    sink = logger.add(messages.append, level="WARNING", format="{message}")
    try:
        embedder = OpenVINOEmbedder(MINILM, cache_dir=tmp_path, fallback=FakeEmbedder)
        assert embedder.embed(["a", "b"]) == [[1.0, 0.0, 0.0]] * 2
        assert embedder.dimension == 3 and embedder.max_input_tokens == 7 and embedder.count_tokens("a b") == 2
        assert embedder.active_backend == "torch"
    finally:
        logger.remove(sink)
    assert len(messages) == 1 and "using the torch embedder" in messages[0] and "mean Pooling" in messages[0]


def test_without_a_fallback_the_failure_is_a_configuration_error(failing_export, tmp_path):
    embedder = OpenVINOEmbedder(MINILM, cache_dir=tmp_path)
    with pytest.raises(ImproperlyConfigured, match="EMBEDDING_BACKEND=torch"):
        embedder.embed(["a"])


# --- The backend setting --------------------------------------------------------------------------------
@pytest.fixture
def fresh_embedders() -> Iterator[None]:
    bootstrap._shared_embedder.cache_clear()
    yield
    bootstrap._shared_embedder.cache_clear()


def settings_with(tmp_path: Path, **values: object):  # type: ignore[no-untyped-def]
    return load_settings(env_file=tmp_path / "none.env", LOCAL_DATA_DIR=tmp_path / "local", **values)


@needs_openvino
def test_auto_builds_the_openvino_embedder_with_a_torch_fallback(fresh_embedders, tmp_path, monkeypatch):
    monkeypatch.delenv("EMBEDDING_CACHE_DIR", raising=False)  # the session's (conftest): the default here
    settings = settings_with(tmp_path, EMBEDDING_BATCH_SIZE=16)
    assert settings.EMBEDDING_BACKEND == "auto"
    embedder = bootstrap.build_embedder(settings)
    assert isinstance(embedder, OpenVINOEmbedder) and not embedder.is_loaded
    assert embedder.cache_dir == tmp_path / "local" / "models" / "embeddings"
    assert embedder.batch_size == 16 and embedder._fallback_factory is not None
    fallback = embedder._fallback_factory()
    assert isinstance(fallback, SentenceTransformerEmbedder) and not fallback.bf16


def test_torch_backends_build_sentence_transformers(fresh_embedders, tmp_path):
    plain = bootstrap.build_embedder(settings_with(tmp_path, EMBEDDING_BACKEND="torch"))
    bf16 = bootstrap.build_embedder(settings_with(tmp_path, EMBEDDING_BACKEND="torch-bf16"))
    assert isinstance(plain, SentenceTransformerEmbedder) and plain.active_backend == "torch"
    assert isinstance(bf16, SentenceTransformerEmbedder) and bf16.active_backend == "torch-bf16"


def test_auto_without_the_runtime_is_torch_and_openvino_is_an_error(fresh_embedders, tmp_path, monkeypatch):
    from llm_engineering.infrastructure import openvino_embeddings

    monkeypatch.setattr(openvino_embeddings, "openvino_installed", lambda: False)
    messages: list[str] = []
    sink = logger.add(messages.append, level="INFO", format="{message}")
    try:
        embedder = bootstrap.build_embedder(settings_with(tmp_path))
    finally:
        logger.remove(sink)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert [message.strip() for message in messages] == [
        "Embedding backend: torch, as the openvino package is not installed"
    ]
    with pytest.raises(ImproperlyConfigured, match="openvino package is not installed"):
        bootstrap.build_embedder(settings_with(tmp_path, EMBEDDING_BACKEND="openvino"))


def test_openvino_on_a_gpu_device_is_an_error_and_auto_uses_torch(fresh_embedders, tmp_path):
    with pytest.raises(ImproperlyConfigured, match="RAG_MODEL_DEVICE=cuda"):
        bootstrap.build_embedder(settings_with(tmp_path, EMBEDDING_BACKEND="openvino", RAG_MODEL_DEVICE="cuda"))
    auto = bootstrap.build_embedder(settings_with(tmp_path, RAG_MODEL_DEVICE="cuda"))
    assert isinstance(auto, SentenceTransformerEmbedder) and auto.device == "cuda"
