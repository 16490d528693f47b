"""HF -> GGUF export of a twin (a tiny random Gemma 3 and a hand-written base GGUF of the same sizes): tensor
names and layouts as llama.cpp's converter writes them, norm weights + 1, metadata from the base, matrices
Q8_0, the export redone only when the weights change, and other architectures refused."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from llm_engineering.model.errors import ModelConversionError
from llm_engineering.model.gguf_export import ensure_gguf_export, export_gguf, exported_gguf_path

SIZES = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "heads": 2, "kv_heads": 1, "vocab": 96}


def tiny_twin(folder: Path) -> Path:
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=SIZES["vocab"],
        hidden_size=SIZES["hidden_size"],
        intermediate_size=SIZES["intermediate_size"],
        num_hidden_layers=SIZES["num_hidden_layers"],
        num_attention_heads=SIZES["heads"],
        num_key_value_heads=SIZES["kv_heads"],
        head_dim=32,
        max_position_embeddings=256,
        sliding_window=64,
    )
    model = Gemma3ForCausalLM(config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("norm.weight"):
                parameter.uniform_(-0.5, 0.5)  # Gemma initialises norms at 0; make them tell apart
    model.save_pretrained(folder)
    return folder


def tiny_base(path: Path, blocks: int = SIZES["num_hidden_layers"]) -> Path:
    """A GGUF with the base model's metadata kinds and zero tensors of the tiny sizes."""
    import gguf

    hidden, ffn, head_dim = SIZES["hidden_size"], SIZES["intermediate_size"], 32
    writer = gguf.GGUFWriter(path, arch="gemma3")
    writer.add_name("base")
    writer.add_block_count(blocks)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(SIZES["heads"])
    writer.add_head_count_kv(SIZES["kv_heads"])
    writer.add_context_length(256)
    writer.add_layer_norm_rms_eps(1e-6)  # read by llama.cpp's quantizer (tests of the Q4_K_M adapter)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_tokenizer_model("llama")
    special = {2: "<eos>", 3: "<end_of_turn>"}
    writer.add_token_list([special.get(index, f"t{index}") for index in range(SIZES["vocab"])])
    writer.add_eos_token_id(2)
    shapes = {"token_embd.weight": (SIZES["vocab"], hidden), "output_norm.weight": (hidden,)}
    for block in range(blocks):
        shapes |= {
            f"blk.{block}.attn_q.weight": (SIZES["heads"] * head_dim, hidden),
            f"blk.{block}.attn_k.weight": (SIZES["kv_heads"] * head_dim, hidden),
            f"blk.{block}.attn_v.weight": (SIZES["kv_heads"] * head_dim, hidden),
            f"blk.{block}.attn_output.weight": (hidden, SIZES["heads"] * head_dim),
            f"blk.{block}.attn_q_norm.weight": (head_dim,),
            f"blk.{block}.attn_k_norm.weight": (head_dim,),
            f"blk.{block}.attn_norm.weight": (hidden,),
            f"blk.{block}.post_attention_norm.weight": (hidden,),
            f"blk.{block}.ffn_norm.weight": (hidden,),
            f"blk.{block}.post_ffw_norm.weight": (hidden,),
            f"blk.{block}.ffn_gate.weight": (ffn, hidden),
            f"blk.{block}.ffn_up.weight": (ffn, hidden),
            f"blk.{block}.ffn_down.weight": (hidden, ffn),
        }
    for name, shape in shapes.items():
        writer.add_tensor(name, np.zeros(shape, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _tensors(path: Path) -> dict:
    import gguf
    from gguf.quants import dequantize

    reader = gguf.GGUFReader(path)
    return {
        tensor.name: (tensor.tensor_type.name, dequantize(tensor.data, tensor.tensor_type)) for tensor in reader.tensors
    }


def test_the_export_maps_names_shifts_norms_and_keeps_the_base_metadata(tmp_path):
    import gguf
    from safetensors.numpy import load_file

    twin = tiny_twin(tmp_path / "twin-v1")
    base = tiny_base(tmp_path / "base.gguf")
    target = export_gguf(twin, base, tmp_path / "models" / "gguf" / "twin-v1.gguf")

    weights = load_file(str(twin / "model.safetensors"))
    exported = _tensors(target)
    assert set(exported) == set(_tensors(base))
    kind, norm = exported["blk.1.post_ffw_norm.weight"]
    assert kind == "F32" and np.array_equal(norm, weights["model.layers.1.post_feedforward_layernorm.weight"] + 1)
    kind, query = exported["blk.0.attn_q.weight"]
    original = weights["model.layers.0.self_attn.q_proj.weight"]
    assert kind == "Q8_0" and query.shape == original.shape
    assert np.abs(query - original).max() <= np.abs(original).max() / 100  # Q8_0: within 1% of the range
    assert exported["token_embd.weight"][1].shape == (SIZES["vocab"], SIZES["hidden_size"])

    reader = gguf.GGUFReader(target)
    assert reader.fields["general.architecture"].contents() == "gemma3"
    assert reader.fields["general.name"].contents() == "twin-v1"
    assert reader.fields["tokenizer.ggml.tokens"].contents()[:2] == ["t0", "t1"]
    assert reader.fields["gemma3.block_count"].contents() == SIZES["num_hidden_layers"]


def test_the_export_is_redone_only_when_the_weights_change(tmp_path):
    twin = tiny_twin(tmp_path / "twin-v1")
    base = tiny_base(tmp_path / "base.gguf")
    target = exported_gguf_path(tmp_path / "models", "twin-v1")
    assert target == tmp_path / "models" / "gguf" / "twin-v1.gguf"
    assert ensure_gguf_export(twin, base, target) == (target, True)
    assert ensure_gguf_export(twin, base, target) == (target, False)
    weights = twin / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert ensure_gguf_export(twin, base, target) == (target, True)
    assert not list(target.parent.glob("*.partial"))


def test_another_architecture_or_size_is_refused_with_what_to_do(tmp_path):
    twin = tiny_twin(tmp_path / "twin-v1")
    with pytest.raises(ModelConversionError, match="LOCAL_LLM_ENGINE=transformers"):
        export_gguf(twin, tiny_base(tmp_path / "deeper.gguf", blocks=3), tmp_path / "out.gguf")
    config = (twin / "config.json").read_text().replace('"gemma3_text"', '"llama"')
    (twin / "config.json").write_text(config)
    with pytest.raises(ModelConversionError, match="not a fine-tune of the packaged Gemma 3"):
        export_gguf(twin, tiny_base(tmp_path / "base.gguf"), tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()
