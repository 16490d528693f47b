"""`tools.export_gguf` (poe export-gguf): exports a registered version and says where the files went, keeps
fresh ones on a second run, and fails with a clear message for an unknown version, a plain folder, another
architecture or a missing llama.cpp."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from llm_engineering import bootstrap
from llm_engineering.model.gguf_bundle import GGUFExporter
from tests.unit.model.test_gguf_bundle import CountingBase, FakeQuantizer, registered_twin
from tests.unit.model.test_gguf_export import tiny_base
from tools import export_gguf


@pytest.fixture
def exporter(tmp_path, monkeypatch) -> GGUFExporter:
    registry, _ = registered_twin(tmp_path)
    built = GGUFExporter(registry, CountingBase(tiny_base(tmp_path / "base.gguf")), FakeQuantizer())
    monkeypatch.setattr(bootstrap, "build_gguf_exporter", lambda settings: built)
    return built


def invoke(*arguments: str):
    return CliRunner().invoke(export_gguf.main, [*arguments, "--no-zenml"])


def test_it_exports_the_latest_version_then_keeps_the_fresh_files(exporter):
    first = invoke("--model", "twin:latest")
    assert first.exit_code == 0, first.output
    assert "twin-v1.Q8_0.gguf  Q8_0" in first.output and "twin-v1.Q4_K_M.gguf  Q4_K_M" in first.output
    assert first.output.count("written in") == 2
    assert "ollama create twin-v1 -f " in first.output and "/gguf/Modelfile" in first.output

    second = invoke("--model", "twin:v1", "--quantizations", "Q8_0,Q4_K_M")
    assert second.exit_code == 0, second.output
    assert second.output.count("fresh, kept") == 2


def test_clear_errors(exporter, tmp_path):
    unknown = invoke("--model", "twin:v7")
    assert unknown.exit_code != 0 and "Model 'twin' has no version v7; it has v1." in unknown.output
    folder = invoke("--model", str(tmp_path / "work" / "merged"))
    assert folder.exit_code != 0 and "not a registered version" in folder.output
    bad = invoke("--quantizations", "Q3")
    assert bad.exit_code != 0 and "Unknown GGUF quantization 'Q3'" in bad.output

    exporter.quantizer.unavailable = "llama-cpp-python cannot be imported (ModuleNotFoundError)"
    missing = invoke("--model", "twin")
    assert missing.exit_code != 0 and "Q8_0 works without it (--quantizations Q8_0)" in missing.output
    assert invoke("--model", "twin", "--quantizations", "Q8_0").exit_code == 0

    config = exporter.registry.latest("twin").merged_dir / "config.json"
    config.write_text(config.read_text().replace('"gemma3_text"', '"llama"'))
    other = invoke("--model", "twin", "--force")
    assert other.exit_code != 0 and "not a fine-tune of the packaged Gemma 3" in other.output
