"""A sentence-transformers model exported once to OpenVINO IR and cached on disk, keyed by its source files.

The export loads the model with sentence-transformers itself (so the tokenizer, its lower-casing and the
sequence length are the ones the torch path uses), traces transformer + mean pooling into one graph and
saves it as IR next to the tokenizer and a small `embedder.json`. Later processes read that folder and
never import torch or transformers. Only Transformer -> mean Pooling -> (Normalize) models are exported;
anything else raises `UnsupportedEmbeddingModel`, and the caller falls back to torch.

Cache layout: `<cache_root>/<fingerprint[:16]>/{model.xml, model.bin, tokenizer.json, embedder.json}`, where
the fingerprint hashes the model's own files (weights, configs, tokenizer) and the export recipe, so new
weights or a changed recipe export again while a moved or re-installed copy of the same files does not.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.infrastructure.errors import UnsupportedEmbeddingModel

# Bump when the exported graph or the files written change: every cached export is then redone.
EXPORT_RECIPE = "mean-pooling-ir-v1"
METADATA_FILE = "embedder.json"
_CONFIG_SUFFIXES = (".json", ".txt", ".model")


@dataclasses.dataclass(frozen=True)
class ExportedModel:
    """A ready-to-run export: the IR, the tokenizer, and what the embedder needs to know about the model."""

    folder: Path
    dimension: int
    max_seq_length: int
    pad_id: int
    pad_token: str
    fingerprint: str
    exported_in_s: float | None = None  # set when this process exported it, None when read from the cache

    @property
    def model_xml(self) -> Path:
        return self.folder / "model.xml"

    @property
    def tokenizer_json(self) -> Path:
        return self.folder / "tokenizer.json"


def model_files(source: Path) -> list[Path]:
    """The files that define the model in `source`: configs and tokenizer files at the top and in module
    folders, and the weights transformers loads (safetensors when present, else .bin). Other formats a hub
    snapshot may hold (onnx/, openvino/, tf_model.h5) and READMEs are left out."""
    top = [path for path in source.iterdir() if path.is_file()]
    weights = [path for path in top if path.suffix == ".safetensors"] or [path for path in top if path.suffix == ".bin"]
    files = [path for path in top if path.suffix in _CONFIG_SUFFIXES] + weights
    modules = source / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            folder = source / str(module.get("path") or "")
            if module.get("path") and folder.is_dir():
                files += [path for path in folder.iterdir() if path.is_file() and path.suffix in _CONFIG_SUFFIXES]
    return sorted(set(files))


def model_fingerprint(source: Path) -> str:
    """A sha256 over the export recipe and the names and contents of `model_files(source)`."""
    digest = hashlib.sha256(EXPORT_RECIPE.encode())
    for path in model_files(source):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        with path.open("rb") as file:
            digest.update(hashlib.file_digest(file, "sha256").digest())
    return digest.hexdigest()


def exported_model(source: str | Path, cache_root: Path) -> ExportedModel:
    """The cached export of the model in folder `source`, exporting it first when the cache has none.

    Concurrent processes wait for one another's export (a lock file beside the folder) instead of
    exporting twice. Raises `UnsupportedEmbeddingModel`, or the library's error when the export itself fails.
    """
    source = Path(source)
    if not source.is_dir():
        raise UnsupportedEmbeddingModel(f"{source} is not a local model folder; only local weights are exported")
    fingerprint = model_fingerprint(source)
    folder = cache_root / fingerprint[:16]
    cached = _read(folder, fingerprint)
    if cached is not None:
        return cached
    cache_root.mkdir(parents=True, exist_ok=True)
    with _exclusive(cache_root / f"{folder.name}.lock"):
        cached = _read(folder, fingerprint)  # another process may have finished it while this one waited
        if cached is not None:
            return cached
        started = time.perf_counter()
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=cache_root))
        try:
            metadata = export(source, staging)
            metadata["fingerprint"] = fingerprint
            (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2), encoding="utf-8")
            staging.chmod(0o755)  # mkdtemp's 0700 would hide the cache from other users of the folder
            if folder.exists():  # a broken leftover (no metadata): replace it
                shutil.rmtree(folder)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    elapsed = time.perf_counter() - started
    logger.info("Exported the embedding model in {} to OpenVINO in {:.1f}s: {}", source, elapsed, folder)
    result = _read(folder, fingerprint)
    assert result is not None  # just written
    return dataclasses.replace(result, exported_in_s=elapsed)


def _read(folder: Path, fingerprint: str) -> ExportedModel | None:
    try:
        metadata = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
        model = ExportedModel(
            folder=folder,
            dimension=int(metadata["dimension"]),
            max_seq_length=int(metadata["max_seq_length"]),
            pad_id=int(metadata["pad_id"]),
            pad_token=str(metadata["pad_token"]),
            fingerprint=str(metadata.get("fingerprint", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):  # missing, unreadable or from another recipe: export again
        return None
    complete = model.fingerprint == fingerprint and all(
        path.is_file() for path in (model.model_xml, folder / "model.bin", model.tokenizer_json)
    )
    return model if complete else None


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: two processes may both export; the second rename then fails loudly
        yield
        return
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def export(source: Path, target: Path) -> dict[str, Any]:
    """Export the sentence-transformers model in `source` into folder `target` (IR + tokenizer); returns
    the metadata to store with it. Imports torch, sentence-transformers and OpenVINO's converter."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(source), device="cpu")
    modules = list(model)
    names = [type(module).__name__ for module in modules]
    if (
        names[:2] != ["Transformer", "Pooling"]
        or any(name != "Normalize" for name in names[2:])
        or getattr(modules[1], "pooling_mode", None) != "mean"
    ):
        raise UnsupportedEmbeddingModel(
            f"only Transformer -> mean Pooling -> (Normalize) models are exported, got {names}"
        )
    transformer = modules[0]
    tokenizer = transformer.tokenizer
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise UnsupportedEmbeddingModel("the model has no fast tokenizer")

    class MeanPooled(torch.nn.Module):
        # The transformer and sentence-transformers' mean pooling in one graph; normalising stays outside
        # (the embedder's `normalize` switch).
        def __init__(self, encoder: torch.nn.Module):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            tokens = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            return (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

    wrapped = MeanPooled(transformer.auto_model).eval()
    example = tokenizer(["an example sentence", "and another, a little longer one"], padding=True, return_tensors="pt")
    inputs = {"input_ids": example["input_ids"], "attention_mask": example["attention_mask"]}
    with torch.no_grad():
        dimension = int(wrapped(**inputs).shape[-1])
    ov = import_openvino()
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing notes that transformers' mask helpers branch on shapes; both branches are fixed for a
        # padded encoder input (mask given, not causal), which the checks against torch confirm.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        graph = ov.convert_model(wrapped, example_input=inputs)
    for graph_input, name in zip(graph.inputs, inputs, strict=True):
        graph_input.get_tensor().set_names({name})
        graph_input.get_node().set_partial_shape(ov.PartialShape([-1, -1]))
    graph.outputs[0].get_tensor().set_names({"sentence_embedding"})
    graph.validate_nodes_and_infer_types()
    # Full-precision weights: the runtime picks the compute precision (bf16 where the CPU has it).
    ov.save_model(graph, target / "model.xml", compress_to_fp16=False)
    backend.save(str(target / "tokenizer.json"))
    return {
        "model_source": str(source),
        "dimension": dimension,
        "max_seq_length": int(model.max_seq_length),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or "[PAD]"),
        "normalize_in_source": "Normalize" in names,
        "export_recipe": EXPORT_RECIPE,
        "openvino": ov.get_version(),
        "torch": torch.__version__,
    }


def import_openvino() -> Any:
    """`openvino`, its converter reporting nothing unless the user opted in to vendor telemetry.

    OpenVINO's converter (`convert_model`) sends usage events to Google Analytics by default, and its only
    opt-out is a consent file in the home folder. It falls back to its own no-op stub when
    `openvino_telemetry` cannot be imported: the converter modules are pointed at that stub here.
    """
    from llm_engineering.telemetry import vendor_telemetry_allowed

    allowed = vendor_telemetry_allowed()
    if not allowed and "openvino" not in sys.modules:
        blocked = "openvino_telemetry" not in sys.modules
        if blocked:
            sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # makes its import fail
        try:
            import openvino
        finally:
            if blocked:
                del sys.modules["openvino_telemetry"]
    import openvino

    if not allowed:
        from openvino.tools.ovc import telemetry_stub

        for name, module in list(sys.modules.items()):
            if name.startswith("openvino.tools.ovc") and getattr(module, "tm", None) not in (None, telemetry_stub):
                module.tm = telemetry_stub  # type: ignore[attr-defined]
    return openvino
