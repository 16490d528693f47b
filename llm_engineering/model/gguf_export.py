"""Hugging Face -> GGUF export of a trained twin of the packaged Gemma 3 270M, so the llama.cpp engine serves it.

A twin fine-tuned from the local base model has the base's architecture and tokenizer: the GGUF takes every
metadata field (hyperparameters, vocabulary, merges) from the packaged GGUF, checked against the twin's
`config.json`, and the twin's weights, mapped to llama.cpp's tensor names as llama.cpp's own converter maps
Gemma 3 (norm weights + 1: Gemma's RMSNorm scales by 1 + weight). Matrices are stored as Q8_0 (near lossless,
about 290 MB), vectors as F32. Other architectures (e.g. the `gpu` profile's Llama 3.1 8B) are refused: serve
them with LOCAL_LLM_ENGINE=transformers, or vLLM on a GPU.

The export lands in `LOCAL_DATA_DIR/models/gguf/<served id>.gguf` beside a note of its source, and is redone
when the source's weights change. numpy, gguf and safetensors are imported inside functions.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.model.errors import ModelConversionError

ARCHITECTURE = "gemma3"
MODEL_TYPES = {"gemma3_text", "gemma3"}


def exported_gguf_path(models_dir: Path, model_id: str) -> Path:
    """Where the export of the model served as `model_id` lives."""
    return models_dir / "gguf" / f"{model_id}.gguf"


def ensure_gguf_export(hf_dir: Path, base_gguf: Path, target: Path) -> tuple[Path, bool]:
    """The GGUF export of `hf_dir` at `target`, written unless a fresh one is there. Returns the path and
    whether it was written now; raises ModelConversionError when the model cannot be exported."""
    if _is_fresh(hf_dir, target):
        return target, False
    return export_gguf(hf_dir, base_gguf, target), True


def export_gguf(hf_dir: Path, base_gguf: Path, target: Path) -> Path:
    """Write the Gemma 3 model of Hugging Face folder `hf_dir` as a GGUF at `target`, its metadata from
    `base_gguf` (the model it was fine-tuned from). Written to a temp file, then renamed; returns `target`."""
    import gguf

    started = time.perf_counter()
    reader = gguf.GGUFReader(base_gguf)
    config = _read_config(hf_dir)
    _check_compatible(config, reader, hf_dir)
    blocks = int(config["num_hidden_layers"])
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, blocks)
    base_shapes = {tensor.name: tuple(int(size) for size in reversed(tensor.shape)) for tensor in reader.tensors}

    partial = target.with_name(target.name + ".partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(partial, arch=ARCHITECTURE)
    try:
        _copy_metadata(reader, writer, name=hf_dir.name)
        written = set()
        for hf_name, data in _hf_tensors(hf_dir):
            if hf_name.startswith("lm_head."):
                continue  # tied to the embeddings, as in the base GGUF
            name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
            if name is None:
                raise ModelConversionError(f"{hf_dir}: no GGUF name for tensor {hf_name!r}")
            if name.endswith("norm.weight"):
                data = data + 1.0  # Gemma3RMSNorm: x * (1 + weight); llama.cpp multiplies by the stored value
            expected = base_shapes.get(name)
            if name == "token_embd.weight" and expected is not None:
                data = data[: expected[0]]  # rows beyond the tokenizer's vocabulary, as llama.cpp's converter drops
            if expected is not None and tuple(data.shape) != expected:
                raise ModelConversionError(
                    f"{hf_dir}: tensor {hf_name} has shape {tuple(data.shape)}, the base model's {expected}"
                )
            _add_tensor(writer, name, data)
            written.add(name)
        missing = sorted(set(base_shapes) - written)
        if missing:
            raise ModelConversionError(f"{hf_dir}: tensors missing for {missing[:5]}")
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    except (OSError, ValueError, KeyError, ModelConversionError) as error:
        writer.close()
        partial.unlink(missing_ok=True)
        if isinstance(error, ModelConversionError):
            raise
        raise ModelConversionError(f"Exporting {hf_dir} to GGUF failed: {error}") from error
    writer.close()
    partial.replace(target)
    _note_path(target).write_text(json.dumps(_source_note(hf_dir), indent=2))
    logger.info("Exported {} to {} in {:.1f}s", hf_dir, target, time.perf_counter() - started)
    return target


def _read_config(hf_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((hf_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelConversionError(f"{hf_dir} has no readable config.json: {error}") from error


def _check_compatible(config: dict[str, Any], reader: Any, hf_dir: Path) -> None:
    """Refuse a model that is not the base GGUF's architecture with its sizes."""
    base_arch = _field(reader, "general.architecture")
    expected = {
        "hidden_size": _field(reader, f"{ARCHITECTURE}.embedding_length"),
        "num_hidden_layers": _field(reader, f"{ARCHITECTURE}.block_count"),
        "intermediate_size": _field(reader, f"{ARCHITECTURE}.feed_forward_length"),
        "num_attention_heads": _field(reader, f"{ARCHITECTURE}.attention.head_count"),
        "num_key_value_heads": _field(reader, f"{ARCHITECTURE}.attention.head_count_kv"),
    }
    actual = {key: config.get(key) for key in expected}
    if base_arch != ARCHITECTURE or config.get("model_type") not in MODEL_TYPES or actual != expected:
        raise ModelConversionError(
            f"{hf_dir} ({config.get('model_type')}, {actual}) is not a fine-tune of the packaged Gemma 3 270M "
            f"({expected}); only those are exported to GGUF here. Serve it with LOCAL_LLM_ENGINE=transformers "
            "(or vLLM on a GPU)."
        )


def _field(reader: Any, key: str) -> Any:
    field = reader.fields.get(key)
    return None if field is None else field.contents()


def _copy_metadata(reader: Any, writer: Any, name: str) -> None:
    import gguf

    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # the writer writes these itself
        if field.name in (gguf.Keys.General.NAME, gguf.Keys.General.FILE_TYPE):
            continue
        kind = field.types[0]
        sub_type = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub_type)
    writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)


def _hf_tensors(hf_dir: Path) -> Any:
    """(name, float32 numpy array) for every tensor of the folder's safetensors files (bf16 included)."""
    from safetensors import safe_open

    files = sorted(hf_dir.glob("*.safetensors"))
    if not files:
        raise ModelConversionError(f"{hf_dir} holds no .safetensors weights")
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                yield key, handle.get_tensor(key).float().numpy()


def _add_tensor(writer: Any, name: str, data: Any) -> None:
    import gguf
    import numpy as np

    if data.ndim >= 2 and data.shape[-1] % 32 == 0:
        quantized = gguf.quants.quantize(np.ascontiguousarray(data, dtype=np.float32), gguf.GGMLQuantizationType.Q8_0)
        writer.add_tensor(name, quantized, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    else:
        writer.add_tensor(name, np.ascontiguousarray(data, dtype=np.float32))


def _note_path(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def _source_note(hf_dir: Path) -> dict[str, Any]:
    weights = sorted(hf_dir.resolve().glob("*.safetensors"))
    return {
        "source": str(hf_dir.resolve()),
        "weights": {path.name: [path.stat().st_size, path.stat().st_mtime_ns] for path in weights},
    }


def _is_fresh(hf_dir: Path, target: Path) -> bool:
    note = _note_path(target)
    if not (target.is_file() and note.is_file()):
        return False
    try:
        return json.loads(note.read_text()) == _source_note(hf_dir)
    except (OSError, ValueError):
        return False
