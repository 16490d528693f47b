"""Hugging Face -> GGUF export of a trained twin of the packaged Gemma 3 270M, so the llama.cpp engine serves it.

A twin fine-tuned from the local base model has the base's architecture and tokenizer: the GGUF takes every
metadata field (hyperparameters, vocabulary, merges) from the packaged GGUF, checked against the twin's
`config.json`, and the twin's weights, mapped to llama.cpp's tensor names as llama.cpp's own converter maps
Gemma 3 (norm weights + 1: Gemma's RMSNorm scales by 1 + weight). Matrices are stored as Q8_0 (near lossless,
about 290 MB) or F16 (the input of llama.cpp's K-quant quantizer, `model.gguf_bundle`), vectors as F32; the
twin's chat template goes in as `tokenizer.chat_template`, so llama.cpp and LM Studio format chats as in
training. Other architectures (e.g. the `gpu` profile's Llama 3.1 8B) are refused: serve them with
LOCAL_LLM_ENGINE=transformers, or vLLM on a GPU.

The export lands in `LOCAL_DATA_DIR/models/gguf/<served id>.gguf` beside a note of its source, and is redone
when the source's weights change. numpy, gguf and safetensors are imported inside functions.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.model.errors import ModelConversionError

ARCHITECTURE = "gemma3"
MODEL_TYPES = {"gemma3_text", "gemma3"}
# What gguf-py writes itself; K-quants (Q4_K_M) need llama.cpp's C quantizer.
OUTTYPES = ("Q8_0", "F16")
CHAT_TEMPLATE_KEY = "tokenizer.chat_template"


def exported_gguf_path(models_dir: Path, model_id: str) -> Path:
    """Where the export of the model served as `model_id` lives."""
    return models_dir / "gguf" / f"{model_id}.gguf"


def ensure_gguf_export(hf_dir: Path, base_gguf: Path, target: Path) -> tuple[Path, bool]:
    """The GGUF export of `hf_dir` at `target`, written unless a fresh one is there. Returns the path and
    whether it was written now; raises ModelConversionError when the model cannot be exported."""
    if _is_fresh(hf_dir, target):
        return target, False
    export_gguf(hf_dir, base_gguf, target)
    _note_path(target).write_text(json.dumps(_source_note(hf_dir), indent=2))
    return target, True


def require_exportable(hf_dir: Path) -> None:
    """Raise ModelConversionError unless `hf_dir`'s config is a Gemma 3 text model (checked from `config.json`
    alone, before any GGUF is read or assembled)."""
    config = _read_config(hf_dir)
    if config.get("model_type") not in MODEL_TYPES:
        raise ModelConversionError(
            f"{hf_dir} is a {config.get('model_type')!r} model, not a fine-tune of the packaged Gemma 3 270M; "
            "only those are exported to GGUF here. Serve it with LOCAL_LLM_ENGINE=transformers (or vLLM on a GPU)."
        )


def weights_fingerprint(hf_dir: Path) -> dict[str, list[int]]:
    """{file: [bytes, mtime_ns]} of the folder's safetensors weights: an export made from them is fresh while
    this is unchanged."""
    weights = sorted(hf_dir.resolve().glob("*.safetensors"))
    return {path.name: [path.stat().st_size, path.stat().st_mtime_ns] for path in weights}


def export_gguf(hf_dir: Path, base_gguf: Path, target: Path, outtype: str = "Q8_0", name: str | None = None) -> Path:
    """Write the Gemma 3 model of Hugging Face folder `hf_dir` as a GGUF at `target`, its metadata from
    `base_gguf` (the model it was fine-tuned from), matrices as `outtype` (Q8_0 or F16), `general.name` set
    to `name` (default: the folder's name). Written to a temp file, then renamed; returns `target`."""
    import gguf

    if outtype not in OUTTYPES:
        raise ModelConversionError(f"GGUF type {outtype!r} is not written here; use one of {', '.join(OUTTYPES)}.")
    started = time.perf_counter()
    reader = _reader(base_gguf)
    config = _read_config(hf_dir)
    _check_compatible(config, reader, hf_dir)
    blocks = int(config["num_hidden_layers"])
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, blocks)
    base_shapes = {tensor.name: tuple(int(size) for size in reversed(tensor.shape)) for tensor in reader.tensors}

    partial = target.with_name(target.name + ".partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(partial, arch=ARCHITECTURE)
    try:
        _copy_metadata(reader, writer, name=name or hf_dir.name, outtype=outtype, chat_template=_chat_template(hf_dir))
        written = set()
        for hf_name, data in _hf_tensors(hf_dir):
            if hf_name.startswith("lm_head."):
                continue  # tied to the embeddings, as in the base GGUF
            tensor_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
            if tensor_name is None:
                raise ModelConversionError(f"{hf_dir}: no GGUF name for tensor {hf_name!r}")
            if tensor_name.endswith("norm.weight"):
                data = data + 1.0  # Gemma3RMSNorm: x * (1 + weight); llama.cpp multiplies by the stored value
            expected = base_shapes.get(tensor_name)
            if tensor_name == "token_embd.weight" and expected is not None:
                data = data[: expected[0]]  # rows beyond the tokenizer's vocabulary, as llama.cpp's converter drops
            if expected is not None and tuple(data.shape) != expected:
                raise ModelConversionError(
                    f"{hf_dir}: tensor {hf_name} has shape {tuple(data.shape)}, the base model's {expected}"
                )
            _add_tensor(writer, tensor_name, data, outtype)
            written.add(tensor_name)
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
    logger.info("Exported {} to {} ({}) in {:.1f}s", hf_dir, target, outtype, time.perf_counter() - started)
    return target


def eos_tokens(gguf_path: Path) -> list[str]:
    """The end-of-sequence token a GGUF's tokenizer names, then Gemma's `<end_of_turn>` when its vocabulary has
    it (llama.cpp ends generation there too). Raises ModelConversionError when it names none."""
    reader = _reader(gguf_path)
    tokens = _field(reader, "tokenizer.ggml.tokens")
    eos_id = _field(reader, "tokenizer.ggml.eos_token_id")
    if not tokens or eos_id is None:
        raise ModelConversionError(f"{gguf_path} names no end-of-sequence token.")
    eos = tokens[int(eos_id)]
    return [eos] + [token for token in ("<end_of_turn>",) if token != eos and token in tokens]


def _reader(gguf_path: Path) -> Any:
    """A GGUFReader of `gguf_path`, kept while the file is unchanged: parsing the base model's 262k-token
    vocabulary takes seconds, and one export reads it for each file it writes."""
    stat = gguf_path.stat()
    return _cached_reader(str(gguf_path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=1)
def _cached_reader(path: str, size: int, mtime_ns: int) -> Any:
    import gguf

    return gguf.GGUFReader(path)


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


def _copy_metadata(reader: Any, writer: Any, name: str, outtype: str, chat_template: str | None) -> None:
    import gguf

    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # the writer writes these itself
        if field.name in (gguf.Keys.General.NAME, gguf.Keys.General.FILE_TYPE):
            continue
        if field.name == CHAT_TEMPLATE_KEY and chat_template:
            continue  # the twin's own template, written below
        kind = field.types[0]
        sub_type = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub_type)
    writer.add_name(name)
    file_type = gguf.LlamaFileType.MOSTLY_Q8_0 if outtype == "Q8_0" else gguf.LlamaFileType.MOSTLY_F16
    writer.add_file_type(file_type)
    if chat_template:
        writer.add_chat_template(chat_template)


def _chat_template(hf_dir: Path) -> str | None:
    """The chat template saved with the twin's tokenizer (`chat_template.jinja` or `tokenizer_config.json`)."""
    jinja = hf_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8") or None
    try:
        template = json.loads((hf_dir / "tokenizer_config.json").read_text(encoding="utf-8")).get("chat_template")
    except (OSError, ValueError, AttributeError):
        return None
    return template if isinstance(template, str) and template else None


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


def _add_tensor(writer: Any, name: str, data: Any, outtype: str) -> None:
    import gguf
    import numpy as np

    if data.ndim >= 2 and outtype == "F16":
        writer.add_tensor(name, np.ascontiguousarray(data, dtype=np.float16))
    elif data.ndim >= 2 and data.shape[-1] % 32 == 0:
        quantized = gguf.quants.quantize(np.ascontiguousarray(data, dtype=np.float32), gguf.GGMLQuantizationType.Q8_0)
        writer.add_tensor(name, quantized, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    else:
        writer.add_tensor(name, np.ascontiguousarray(data, dtype=np.float32))


def _note_path(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def _source_note(hf_dir: Path) -> dict[str, Any]:
    return {"source": str(hf_dir.resolve()), "weights": weights_fingerprint(hf_dir)}


def _is_fresh(hf_dir: Path, target: Path) -> bool:
    note = _note_path(target)
    if not (target.is_file() and note.is_file()):
        return False
    try:
        return json.loads(note.read_text()) == _source_note(hf_dir)
    except (OSError, ValueError):
        return False
