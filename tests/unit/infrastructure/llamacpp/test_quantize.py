"""llama.cpp's quantizer adapter: a clear problem without llama-cpp-python, unknown quantizations refused, and
(where the bindings are installed) a real Q4_K_M of the tiny base GGUF, with llama.cpp's reason on failure."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from llm_engineering.infrastructure.llamacpp.quantize import LlamaCppQuantizer
from llm_engineering.model.errors import ModelConversionError
from tests.unit.model.test_gguf_export import tiny_base

needs_llama_cpp = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason="llama-cpp-python is not installed (bash scripts/setup.sh builds it); Q4_K_M needs its quantizer",
)


def test_without_llama_cpp_the_problem_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # `import llama_cpp` raises ImportError
    quantizer = LlamaCppQuantizer()
    assert "poetry install --with llamacpp" in quantizer.problem()
    with pytest.raises(ModelConversionError, match=r"Quantizing to Q4_K_M needs llama\.cpp: llama-cpp-python cannot"):
        quantizer.quantize(tmp_path / "in.gguf", tmp_path / "out.gguf", "Q4_K_M")


def test_an_unknown_quantization_is_refused(tmp_path):
    with pytest.raises(ModelConversionError, match="'IQ1_S' is not offered here; use one of Q4_K_M"):
        LlamaCppQuantizer().quantize(tmp_path / "in.gguf", tmp_path / "out.gguf", "IQ1_S")


@needs_llama_cpp
def test_a_real_q4_k_m_and_the_reason_of_a_failure(tmp_path):
    import gguf

    quantizer = LlamaCppQuantizer(threads=1)
    assert quantizer.problem() is None
    target = quantizer.quantize(tiny_base(tmp_path / "base.gguf"), tmp_path / "base.Q4_K_M.gguf", "Q4_K_M")
    reader = gguf.GGUFReader(target)
    assert reader.fields["general.file_type"].contents() == gguf.LlamaFileType.MOSTLY_Q4_K_M
    # 64-wide rows are too narrow for K-quants' 256-blocks: llama.cpp falls back as it does for Gemma's 640.
    assert {tensor.tensor_type.name for tensor in reader.tensors if tensor.name.endswith("attn_q.weight")} <= {
        "Q5_0",
        "Q4_0",
        "Q5_1",
        "Q8_0",
    }
    assert not list(tmp_path.glob("*.partial"))
    # llama.cpp's own reason reaches the message when its log is ours to read; another test's engine may
    # have taken the log callback, so the message is only required to name the file and the status.
    with pytest.raises(ModelConversionError, match=r"could not quantize .*missing\.gguf to Q4_K_M \(status"):
        quantizer.quantize(tmp_path / "missing.gguf", tmp_path / "out.gguf", "Q4_K_M")
    assert not (tmp_path / "out.gguf.partial").exists()
