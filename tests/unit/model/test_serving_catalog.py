"""The registry as serving sees it: specs found and checked (the same words for the CLI, the UI and continuous
training), the llama.cpp engine's GGUF check, the production alias read cheaply, publishing and promoting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_engineering.application.errors import ServedModelError
from llm_engineering.model import serving_catalog
from llm_engineering.model.gguf_export import weights_fingerprint
from llm_engineering.model.registry import ModelRegistry
from llm_engineering.model.serving_catalog import RegistryModelCatalog
from tests.unit.model.test_registry import register


def _catalog(tmp_path: Path, engine: str = "transformers") -> RegistryModelCatalog:
    return RegistryModelCatalog(
        ModelRegistry(tmp_path / "registry"),
        tmp_path / "models",
        twin_name="twin",
        base_model_id="gemma-3-270m-twin",
        engine=lambda: engine,
    )


def _gemma(registered) -> None:
    """Make the version's merged model a Gemma 3 fine-tune as far as its config tells."""
    (registered.merged_dir / "config.json").write_text(json.dumps({"model_type": "gemma3_text"}))


def test_specs_name_exact_versions(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    register(registry, tmp_path)
    register(registry, tmp_path)
    catalog = _catalog(tmp_path)

    assert catalog.find("twin:v1").spec == "twin:v1"
    latest = catalog.find("twin:latest")
    assert (latest.spec, latest.model_id, latest.name, latest.version) == ("twin:v2", "twin-v2", "twin", 2)
    assert catalog.find("twin").version == 2
    assert catalog.find("base").model_id == "gemma-3-270m-twin" and catalog.find("base").is_base
    registry.promote("twin", 1)
    assert catalog.find("twin:production").spec == "twin:v1"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("twin:v9", "Model 'twin' has no version v9; it has v1"),
        ("ghost:v1", "No model 'ghost' in the registry"),
        ("twin:production", "has no production version yet"),
        ("twin:beta", "Bad version 'beta'"),
        ("  ", "No model given"),
        ("./some/folder", "is a path"),
    ],
)
def test_bad_specs_say_why(tmp_path, spec, message):
    register(ModelRegistry(tmp_path / "registry"), tmp_path)
    with pytest.raises(ServedModelError, match=message):
        _catalog(tmp_path).find(spec)


def test_a_merged_model_without_chat_template_cannot_be_served(tmp_path):
    registered = register(ModelRegistry(tmp_path / "registry"), tmp_path)
    (registered.merged_dir / "tokenizer_config.json").write_text("{}")  # the DPO stage kept it there
    with pytest.raises(ServedModelError, match=r"twin:v1 cannot be served: .*no chat template"):
        _catalog(tmp_path).find("twin:v1")


def test_llamacpp_needs_a_gemma_twin_or_a_fresh_gguf_export(tmp_path, monkeypatch):
    registered = register(ModelRegistry(tmp_path / "registry"), tmp_path)
    catalog = _catalog(tmp_path, engine="llamacpp")
    with pytest.raises(ServedModelError, match=r"cannot be served by the llama\.cpp engine .* no fresh GGUF export"):
        catalog.find("twin:v1")
    assert catalog.find("twin:v1", for_serving=False).spec == "twin:v1"  # promotable, not servable here
    assert _catalog(tmp_path, engine="transformers").find("twin:v1").spec == "twin:v1"

    _gemma(registered)
    assert catalog.find("twin:v1").spec == "twin:v1"  # exported from its weights on first use
    monkeypatch.setattr(RegistryModelCatalog, "_packaged_gguf_installed", staticmethod(lambda: False))
    with pytest.raises(ServedModelError, match="needs the packaged Gemma 3 GGUF"):
        catalog.find("twin:v1")


def test_llamacpp_serves_a_version_with_its_own_fresh_export(tmp_path, monkeypatch):
    registry = ModelRegistry(tmp_path / "registry")
    registered = register(registry, tmp_path)  # not a Gemma twin: only its own export makes it servable
    export = registered.path / "gguf" / "twin-v1.Q8_0.gguf"
    export.parent.mkdir()
    export.write_bytes(b"GGUF" + b"\0" * 60)
    registry.record_exports(
        registered,
        {
            "weights": weights_fingerprint(registered.merged_dir),
            "files": {"gguf/twin-v1.Q8_0.gguf": {"quantization": "Q8_0", "bytes": 64, "sha256": "x"}},
        },
    )
    monkeypatch.setattr(RegistryModelCatalog, "_packaged_gguf_installed", staticmethod(lambda: False))
    assert _catalog(tmp_path, engine="llamacpp").find("twin:v1").model_id == "twin-v1"


def test_the_base_model_needs_its_package_or_a_local_copy(tmp_path, monkeypatch):
    catalog = _catalog(tmp_path, engine="llamacpp")
    monkeypatch.setattr(RegistryModelCatalog, "_packaged_gguf_installed", staticmethod(lambda: False))
    with pytest.raises(ServedModelError, match=f"package {serving_catalog.GGUF_PACKAGE} is not installed"):
        catalog.find("base")
    (tmp_path / "models" / "gemma-3-270m-twin").mkdir(parents=True)
    (tmp_path / "models" / "gemma-3-270m-twin" / "model.gguf").write_bytes(b"GGUF")
    assert catalog.find("base").spec == "base"


def test_production_is_read_again_when_the_alias_changes(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    register(registry, tmp_path)
    register(registry, tmp_path)
    catalog = _catalog(tmp_path)
    assert catalog.production() is None
    registry.promote("twin", 1)  # by another process, e.g. the CLI
    assert catalog.production().spec == "twin:v1"
    registry.promote("twin", 2)
    assert catalog.production().spec == "twin:v2"


def test_promote_returns_the_previous_version_and_publish_links_it(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    register(registry, tmp_path)
    register(registry, tmp_path)
    catalog = _catalog(tmp_path)
    assert catalog.promote(catalog.find("twin:v1"), reason="first") is None
    previous = catalog.promote(catalog.find("twin:v2"), reason="better")
    assert previous.spec == "twin:v1" and catalog.production().spec == "twin:v2"
    assert registry.aliases("twin")["production"]["reason"] == "better"

    assert catalog.publish(catalog.find("twin:v2")) == "twin-v2"
    link = tmp_path / "models" / "twin-v2"
    assert link.is_symlink() and link.resolve() == registry.get("twin", 2).merged_dir.resolve()
    assert catalog.publish(catalog.find("base")) == "gemma-3-270m-twin"
    with pytest.raises(ServedModelError, match="base model cannot be promoted"):
        catalog.promote(catalog.find("base"), reason="no")
