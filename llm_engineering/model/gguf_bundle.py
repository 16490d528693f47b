"""The GGUF bundle of a registered twin: its merged model as GGUF files plus an Ollama Modelfile, recorded in
the version's model card.

    <registry>/<name>/v<N>/gguf/<name>-v<N>.Q8_0.gguf     near lossless; what the local llama.cpp server serves
    <registry>/<name>/v<N>/gguf/<name>-v<N>.Q4_K_M.gguf   smaller; what the Modelfile names
    <registry>/<name>/v<N>/gguf/Modelfile                 `ollama create <name> -f .../Modelfile`

K-quants (Q4_K_M) come from llama.cpp's quantizer on a temporary F16 export (`model.gguf_export`), and Q8_0
from the same F16 when that runs; without llama.cpp, gguf-py writes the Q8_0 itself.

The card's `gguf` section lists each file with its quantization, size and sha256, the Modelfile, and the
fingerprint of the weights they were made from: a file listed there, present with its size, made from the
current weights, is fresh and not redone. The quantizer comes in as an argument (`GGUFQuantizer`; the
composition roots pass llama.cpp's, `infrastructure.llamacpp.quantize`), so this policy is tested without it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from loguru import logger

from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.model import gguf_export
from llm_engineering.model.errors import ModelConversionError
from llm_engineering.model.ollama_modelfile import MODELFILE, render_modelfile
from llm_engineering.model.registry import CARD_JSON, PUBLISHED_MARKER, ModelRegistry, RegisteredModel

GGUF_FOLDER = "gguf"
DEFAULT_QUANTIZATIONS: tuple[str, ...] = ("Q8_0", "Q4_K_M")
# Written by gguf-py from the Hugging Face weights; every other one by the quantizer from an F16 export.
DIRECT = gguf_export.OUTTYPES
QUANTIZED = ("Q4_K_M", "Q4_K_S", "Q5_K_M", "Q6_K")
# The file the Modelfile names first: the smallest that was exported.
OLLAMA_PREFERENCE = ("Q4_K_M", "Q4_K_S", "Q5_K_M", "Q6_K", "Q8_0", "F16")
SERVED_QUANTIZATION = "Q8_0"  # what the local llama.cpp server takes from the registry: near lossless


class GGUFQuantizer(Protocol):
    """llama.cpp's quantizer, or a fake in tests."""

    def problem(self) -> str | None:
        """Why it cannot run on this machine; None when it can."""
        ...

    def quantize(self, source: Path, target: Path, quantization: str) -> Path:
        """Write `source` quantized as `quantization` to `target`; raises ModelConversionError."""
        ...


@dataclass(frozen=True)
class GGUFFile:
    """One exported file: `path` (absolute), its quantization, size and sha256, whether it was written now."""

    path: Path
    quantization: str
    bytes: int
    sha256: str
    written: bool
    seconds: float = 0.0

    def card_entry(self) -> dict[str, Any]:
        return {"quantization": self.quantization, "bytes": self.bytes, "sha256": self.sha256}


@dataclass(frozen=True)
class GGUFBundle:
    """What `export_registered` left in a version's `gguf/` folder."""

    spec: str
    folder: Path
    files: tuple[GGUFFile, ...]
    modelfile: Path
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Plain figures for logs and metadata: {spec, folder, modelfile, files: {name: {quantization, bytes,
        sha256, written}}, skipped}."""
        return {
            "spec": self.spec,
            "folder": str(self.folder),
            "modelfile": str(self.modelfile),
            "files": {file.path.name: file.card_entry() | {"written": file.written} for file in self.files},
            **({"skipped": dict(self.skipped)} if self.skipped else {}),
        }


def parse_quantizations(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """`Q8_0,Q4_K_M` or a list of names as known upper-case quantizations, in order, without repeats (None: the
    default ones). Raises ModelConversionError naming the ones offered for an unknown name."""
    if value is None:
        return DEFAULT_QUANTIZATIONS
    names = value.split(",") if isinstance(value, str) else list(value)
    wanted: list[str] = []
    for name in names:
        quantization = str(name).strip().upper()
        if not quantization:
            continue
        if quantization not in DIRECT + QUANTIZED:
            offered = ", ".join(DIRECT + QUANTIZED)
            raise ModelConversionError(f"Unknown GGUF quantization {name!r}; use one of {offered}.")
        if quantization not in wanted:
            wanted.append(quantization)
    return tuple(wanted)


def gguf_file_name(registered: RegisteredModel, quantization: str) -> str:
    """`<name>-v<N>.<quantization>.gguf`."""
    return f"{registered.served_name}.{quantization}.gguf"


@dataclass(frozen=True)
class GGUFExporter:
    """Exports registered versions: the registry to record them in, the base GGUF the twins were fine-tuned
    from (a callable: joined from its package only when an export needs it) and the K-quant quantizer."""

    registry: ModelRegistry
    base_gguf: Callable[[], Path]
    quantizer: GGUFQuantizer

    def export(
        self,
        registered: RegisteredModel,
        quantizations: Iterable[str] | None = None,
        force: bool = False,
        skip_unavailable: bool = False,
    ) -> GGUFBundle:
        """Write the wanted GGUF files of `registered` (fresh ones are kept unless `force`), the Modelfile, and
        the card's `gguf` section. K-quants need the quantizer: when it cannot run, they are skipped (named in
        `skipped`) with `skip_unavailable`, else ModelConversionError is raised before anything is written.
        Raises ModelConversionError for a model that is not a Gemma 3 twin or an export that fails."""
        wanted = parse_quantizations(quantizations)
        if not wanted:
            raise ModelConversionError("No GGUF quantization asked for.")
        gguf_export.require_exportable(registered.merged_dir)
        skipped: dict[str, str] = {}
        problem = self.quantizer.problem() if any(q in QUANTIZED for q in wanted) else None
        if problem is not None:
            needing = [q for q in wanted if q in QUANTIZED]
            if not skip_unavailable:
                raise ModelConversionError(
                    f"{', '.join(needing)} needs llama.cpp's quantizer: {problem}. "
                    f"Q8_0 works without it (--quantizations Q8_0)."
                )
            skipped = {q: problem for q in needing}
            wanted = tuple(q for q in wanted if q not in QUANTIZED)
            if not wanted:
                raise ModelConversionError(f"Nothing to export without llama.cpp's quantizer: {problem}.")

        folder = registered.path / GGUF_FOLDER
        fingerprint = gguf_export.weights_fingerprint(registered.merged_dir)
        previous = _fresh_entries(registered, fingerprint)
        targets = {q: folder / gguf_file_name(registered, q) for q in wanted}
        to_write = [q for q in wanted if force or _relative(registered, targets[q]) not in previous]
        section = registered.card().get("gguf") or {}
        if not to_write and (registered.path / section.get("modelfile", "-")).is_file():
            files = [GGUFFile(registered.path / key, written=False, **entry) for key, entry in previous.items()]
            return GGUFBundle(registered.spec, folder, tuple(files), registered.path / section["modelfile"], skipped)

        folder.mkdir(exist_ok=True)
        base_gguf = self.base_gguf() if to_write else None  # joined from its package only when needed
        written = self._write(registered, to_write, targets, base_gguf) if base_gguf is not None else {}
        # Listed: the files asked for (written now or fresh), then other quantizations exported earlier from
        # the same weights.
        files = {_relative(registered, file.path): file for file in written.values()}
        for key, entry in previous.items():
            files.setdefault(key, GGUFFile(registered.path / key, written=False, **entry))
        order = [_relative(registered, targets[q]) for q in wanted]
        files = dict(sorted(files.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))
        exported = next(iter(files.values())).path
        eos = gguf_export.eos_tokens(base_gguf) if base_gguf is not None else section.get("eos_tokens")
        eos = eos or gguf_export.eos_tokens(exported)  # a card from before the tokens were recorded
        modelfile = _write_modelfile(registered, folder, list(files.values()), eos)
        self.registry.record_exports(
            registered,
            {
                "files": {key: file.card_entry() for key, file in files.items()},
                "modelfile": _relative(registered, modelfile),
                "weights": fingerprint,
                "base_gguf": base_gguf.name if base_gguf is not None else section.get("base_gguf"),
                "eos_tokens": eos,
                "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
        return GGUFBundle(registered.spec, folder, tuple(files.values()), modelfile, skipped)

    def _write(
        self, registered: RegisteredModel, quantizations: list[str], targets: Mapping[str, Path], base_gguf: Path
    ) -> dict[str, GGUFFile]:
        """Write `quantizations` to their `targets`: F16 (and Q8_0 when llama.cpp is not needed) by gguf-py;
        the rest by the quantizer from one F16 export (a temporary one unless F16 is asked for), as llama.cpp's
        own recipe does: K-quants of the Q8_0 would stack two rounding errors. Q8_0 joins the quantizer's
        batch when that runs anyway: its C code is faster than gguf-py's numpy, from the same F16."""
        name = registered.served_name
        quantized = [q for q in quantizations if q in QUANTIZED]
        if quantized and "Q8_0" in quantizations:
            quantized.insert(0, "Q8_0")
        direct = [q for q in quantizations if q not in quantized]
        done: dict[str, GGUFFile] = {}
        for quantization in direct:
            started = time.perf_counter()
            target = targets[quantization]
            gguf_export.export_gguf(registered.merged_dir, base_gguf, target, outtype=quantization, name=name)
            done[quantization] = _finished(registered, quantization, target, started)
        if not quantized:
            return done
        started = time.perf_counter()
        f16 = targets.get("F16")
        source = f16 if f16 is not None and f16.is_file() else targets[quantized[-1]].with_name(f".{name}.F16.gguf")
        try:
            if source != f16:
                gguf_export.export_gguf(registered.merged_dir, base_gguf, source, outtype="F16", name=name)
            for quantization in quantized:
                self.quantizer.quantize(source, targets[quantization], quantization)
                done[quantization] = _finished(registered, quantization, targets[quantization], started)
                started = time.perf_counter()
        finally:
            if source != f16:
                source.unlink(missing_ok=True)
        return {q: done[q] for q in quantizations}

    def export_or_report(self, registered: RegisteredModel, quantizations: Iterable[str] | None) -> dict[str, Any]:
        """`export` for the training pipeline, which must not lose a registered version to a failed export:
        quantizations the machine cannot make are skipped, and a failure is logged as a warning and returned
        as `{"error": ...}` instead of raised. An empty list of quantizations turns it off (`{}`)."""
        wanted = None if quantizations is None else tuple(quantizations)
        if wanted == ():
            return {}
        try:
            return self.export(registered, wanted, skip_unavailable=True).summary()
        except LLMTwinError as error:  # ModelConversionError, or ImproperlyConfigured without the base GGUF
            logger.warning("{} is registered, but its GGUF export failed: {}", registered.spec, error)
            return {"spec": registered.spec, "error": str(error)}


def registered_gguf(model_dir: Path, quantization: str = SERVED_QUANTIZATION) -> Path | None:
    """The registry's GGUF export (`quantization`) of the model folder `model_dir` — a registered version's
    merged folder, a link to it, or a copy published from it — when the card lists it, it is there with its
    size and was made from the current weights; else None."""
    merged = _published_source(model_dir)
    if merged is None:
        return None
    for version in merged.parents:
        card_path = version / CARD_JSON
        if not card_path.is_file():
            continue
        try:
            card = json.loads(card_path.read_text())
        except (OSError, ValueError):
            return None
        if (version / card.get("merged_dir", "")).resolve() != merged:
            return None  # an earlier stage's merged folder: not what the exports were made from
        section = card.get("gguf") or {}
        if section.get("weights") != gguf_export.weights_fingerprint(merged):
            return None
        for key, entry in (section.get("files") or {}).items():
            path = version / key
            if (
                entry.get("quantization") == quantization
                and path.is_file()
                and path.stat().st_size == entry.get("bytes")
            ):
                return path
        return None
    return None


def _published_source(model_dir: Path) -> Path | None:
    """The resolved merged folder a published model stands for (a copy names it in its marker)."""
    if (model_dir / PUBLISHED_MARKER).is_file() and not model_dir.is_symlink():
        try:
            return Path(json.loads((model_dir / PUBLISHED_MARKER).read_text())["source"]).resolve()
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return model_dir.resolve() if model_dir.is_dir() else None


def _fresh_entries(registered: RegisteredModel, fingerprint: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The card's GGUF entries still valid: made from these weights, present with their recorded size."""
    section = registered.card().get("gguf") or {}
    if section.get("weights") != fingerprint:
        return {}
    fresh = {}
    for key, entry in (section.get("files") or {}).items():
        path = registered.path / key
        if path.is_file() and path.stat().st_size == entry.get("bytes"):
            fresh[key] = {"quantization": entry["quantization"], "bytes": entry["bytes"], "sha256": entry["sha256"]}
    return fresh


def _write_modelfile(registered: RegisteredModel, folder: Path, files: list[GGUFFile], eos: list[str]) -> Path:
    by_quantization = {file.quantization: file.path.name for file in files}
    chosen = next(q for q in OLLAMA_PREFERENCE if q in by_quantization)
    alternatives = {q: name for q, name in by_quantization.items() if q != chosen}
    text = render_modelfile(by_quantization[chosen], eos, alternatives=alternatives, source=registered.spec)
    path = folder / MODELFILE
    staging = path.with_name(path.name + ".tmp")
    staging.write_text(text, encoding="utf-8")
    staging.replace(path)
    return path


def _finished(registered: RegisteredModel, quantization: str, path: Path, started: float) -> GGUFFile:
    seconds = time.perf_counter() - started
    logger.info("{}: {} written in {:.1f}s", registered.spec, path.name, seconds)
    return GGUFFile(path, quantization, path.stat().st_size, _sha256(path), True, round(seconds, 1))


def _relative(registered: RegisteredModel, path: Path) -> str:
    return path.relative_to(registered.path).as_posix()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
