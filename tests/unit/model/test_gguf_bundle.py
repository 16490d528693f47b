"""GGUF bundle of a registered twin (a tiny random Gemma 3, a hand-written base GGUF, a fake quantizer): the
files and Modelfile land in the version's gguf/ folder and its card, fresh files are kept, K-quants are made
from an F16 export that is then deleted, a machine without llama.cpp gets a clear error or Q8_0 alone, other
architectures are refused before the base GGUF is touched, and the server finds the Q8_0 of a published twin."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llm_engineering.model.errors import ModelConversionError
from llm_engineering.model.gguf_bundle import GGUFExporter, parse_quantizations, registered_gguf
from llm_engineering.model.registry import ModelRegistry, RegisteredModel, publish_for_serving
from tests.ollama_emulation import parse_modelfile
from tests.unit.model.test_gguf_export import tiny_base, tiny_twin
from tests.unit.model.test_registry import FakeStage


@dataclass
class FakeQuantizer:
    """Copies its F16 input as the "quantized" file; records what it was given (and the input's file type)."""

    unavailable: str | None = None
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def problem(self) -> str | None:
        return self.unavailable

    def quantize(self, source: Path, target: Path, quantization: str) -> Path:
        import gguf

        file_type = gguf.GGUFReader(source).fields["general.file_type"].contents()
        self.calls.append((source.name, quantization, gguf.LlamaFileType(file_type).name))
        shutil.copyfile(source, target)
        return target


@dataclass
class CountingBase:
    """The base GGUF provider, counting how often the exporter asks for it."""

    path: Path
    calls: int = 0

    def __call__(self) -> Path:
        self.calls += 1
        return self.path


def registered_twin(tmp_path: Path, name: str = "twin") -> tuple[ModelRegistry, RegisteredModel]:
    """A registry holding the tiny Gemma 3 twin (with the project's chat template) as `<name>:v1`."""
    merged = tiny_twin(tmp_path / "work" / "merged")
    (merged / "chat_template.jinja").write_text("{{ bos_token }}{{ messages[0]['content'] }}")
    registry = ModelRegistry(tmp_path / "registry")
    stage = FakeStage(stage="sft", base_model="gemma-3-270m-twin", adapter_dir=None, merged_dir=merged)
    return registry, registry.register(name, [stage])


@pytest.fixture
def twin(tmp_path):
    registry, registered = registered_twin(tmp_path)
    base = CountingBase(tiny_base(tmp_path / "base.gguf"))
    quantizer = FakeQuantizer()
    return GGUFExporter(registry, base, quantizer), registered, base, quantizer


def test_the_export_writes_both_files_a_modelfile_and_the_card(twin):
    import gguf

    exporter, registered, _, quantizer = twin
    bundle = exporter.export(registered)

    folder = registered.path / "gguf"
    assert sorted(path.name for path in folder.iterdir()) == ["Modelfile", "twin-v1.Q4_K_M.gguf", "twin-v1.Q8_0.gguf"]
    # Both from one F16 export (deleted afterwards): K-quants need it, and Q8_0 then comes from it too.
    assert quantizer.calls == [
        (".twin-v1.F16.gguf", "Q8_0", "MOSTLY_F16"),
        (".twin-v1.F16.gguf", "Q4_K_M", "MOSTLY_F16"),
    ]
    q4 = gguf.GGUFReader(folder / "twin-v1.Q4_K_M.gguf")
    assert q4.fields["general.name"].contents() == "twin-v1"
    assert q4.fields["tokenizer.chat_template"].contents() == "{{ bos_token }}{{ messages[0]['content'] }}"

    card = registered.card()
    files = card["gguf"]["files"]
    assert list(files) == ["gguf/twin-v1.Q8_0.gguf", "gguf/twin-v1.Q4_K_M.gguf"]
    for key, entry in files.items():
        data = (registered.path / key).read_bytes()
        assert entry == {
            "quantization": key.split(".")[1],
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    assert card["gguf"]["modelfile"] == "gguf/Modelfile" and card["gguf"]["base_gguf"] == "base.gguf"
    markdown = registered.card_path.read_text()
    assert "## GGUF exports" in markdown and "| `gguf/twin-v1.Q4_K_M.gguf` | Q4_K_M |" in markdown
    assert "ollama create twin-v1 -f gguf/Modelfile" in markdown
    assert not list(registered.path.glob(".*.tmp"))

    commands = parse_modelfile((folder / "Modelfile").read_text())
    assert dict(commands)["model"] == "./twin-v1.Q4_K_M.gguf"
    assert [value for name, value in commands if name == "stop"][-2:] == ["<eos>", "<end_of_turn>"]
    assert bundle.summary()["files"]["twin-v1.Q8_0.gguf"]["written"] is True


def test_fresh_files_are_kept_and_redone_when_forced_or_the_weights_change(twin):
    exporter, registered, base, quantizer = twin
    exporter.export(registered)
    calls = base.calls

    again = exporter.export(registered, ["Q8_0", "Q4_K_M"])
    assert [file.written for file in again.files] == [False, False]
    assert len(quantizer.calls) == 2 and base.calls == calls  # nothing read, nothing quantized, nothing rewritten

    forced = exporter.export(registered, "Q8_0", force=True)
    assert [(file.quantization, file.written) for file in forced.files] == [("Q8_0", True), ("Q4_K_M", False)]

    weights = registered.merged_dir / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    redone = exporter.export(registered, "Q8_0")
    # The Q4_K_M came from the old weights: no longer listed, nor named by the Modelfile.
    assert [(file.quantization, file.written) for file in redone.files] == [("Q8_0", True)]
    assert list(registered.card()["gguf"]["files"]) == ["gguf/twin-v1.Q8_0.gguf"]
    assert dict(parse_modelfile(redone.modelfile.read_text()))["model"] == "./twin-v1.Q8_0.gguf"


def test_an_f16_asked_for_is_kept_and_is_the_quantizer_s_input(twin):
    exporter, registered, _, quantizer = twin
    bundle = exporter.export(registered, "F16,Q4_K_M")
    assert [file.path.name for file in bundle.files] == ["twin-v1.F16.gguf", "twin-v1.Q4_K_M.gguf"]
    assert quantizer.calls == [("twin-v1.F16.gguf", "Q4_K_M", "MOSTLY_F16")]
    assert dict(parse_modelfile(bundle.modelfile.read_text()))["model"] == "./twin-v1.Q4_K_M.gguf"


def test_without_llama_cpp_q4_k_m_is_a_clear_error_or_skipped(twin):
    import gguf

    exporter, registered, _, quantizer = twin
    quantizer.unavailable = "llama-cpp-python cannot be imported (ModuleNotFoundError)"
    with pytest.raises(ModelConversionError, match=r"Q4_K_M needs llama.cpp's quantizer.*Q8_0 works without it"):
        exporter.export(registered)
    assert not (registered.path / "gguf").exists() and "gguf" not in registered.card()

    bundle = exporter.export(registered, skip_unavailable=True)
    assert [file.quantization for file in bundle.files] == ["Q8_0"]
    q8 = gguf.GGUFReader(bundle.files[0].path)  # written by gguf-py
    assert q8.fields["general.file_type"].contents() == gguf.LlamaFileType.MOSTLY_Q8_0
    assert q8.fields["general.name"].contents() == "twin-v1"
    assert "ModuleNotFoundError" in bundle.skipped["Q4_K_M"]
    assert exporter.export(registered, "Q8_0").files[0].written is False  # Q8_0 alone never needs it


def test_another_architecture_is_refused_before_the_base_gguf_is_read(tmp_path):
    registry, registered = registered_twin(tmp_path)
    config = registered.merged_dir / "config.json"
    config.write_text(config.read_text().replace('"gemma3_text"', '"llama"'))
    base = CountingBase(tmp_path / "never-read.gguf")
    exporter = GGUFExporter(registry, base, FakeQuantizer())
    with pytest.raises(ModelConversionError, match="'llama' model, not a fine-tune of the packaged Gemma 3"):
        exporter.export(registered)
    assert base.calls == 0

    report = exporter.export_or_report(registered, None)  # what the training pipeline records
    assert report["spec"] == "twin:v1" and "LOCAL_LLM_ENGINE=transformers" in report["error"]
    assert exporter.export_or_report(registered, []) == {}  # turned off


def test_quantization_names_are_checked():
    assert parse_quantizations(" q8_0, Q4_K_M,Q8_0,") == ("Q8_0", "Q4_K_M")
    assert parse_quantizations(None) == ("Q8_0", "Q4_K_M")
    with pytest.raises(ModelConversionError, match="Unknown GGUF quantization 'Q3'"):
        parse_quantizations("Q3")


def test_the_server_finds_the_q8_0_of_a_published_twin(twin, tmp_path):
    exporter, registered, _, _ = twin
    models = tmp_path / "models"
    linked = models / publish_for_serving(registered, models)
    copied = models / publish_for_serving(registered, models, served_name="twin-copy", copy=True)
    assert registered_gguf(linked) is None  # nothing exported yet

    exporter.export(registered, "Q8_0")
    q8 = registered.path / "gguf" / "twin-v1.Q8_0.gguf"
    assert registered_gguf(linked) == q8 and registered_gguf(copied) == q8
    assert registered_gguf(registered.merged_dir, "Q4_K_M") is None
    assert registered_gguf(tmp_path / "work") is None  # not a registered model

    weights = registered.merged_dir / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert registered_gguf(linked) is None  # made from other weights: not served
    assert json.loads((registered.path / "model_card.json").read_text())["gguf"]["files"]
