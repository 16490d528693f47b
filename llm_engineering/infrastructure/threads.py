"""How many CPU threads torch uses to encode text, chosen per kind of process by its composition root.

A `query` process (the API, the CLI query tools, the latency benches) encodes one short query at a time:
one intra-op thread. More only adds hand-offs between OpenMP workers that wait for a core held by other
jobs: one query once took 1.8-3.3 s with 2 threads on the main thread of a busy 2-core machine, against
0.02-0.14 s with one (`bench/query_embedding.py` measures it). A `batch` process (the feature pipeline)
encodes thousands of chunks and uses every core it may run on. `EMBEDDING_THREADS` > 0 overrides both.

torch is not imported for this: when it is not loaded yet, the number is set the moment it is imported,
so a process that never encodes never pays for torch. torch keeps the number per thread once a thread
has run torch work, and new threads start with the last number set. Encoders other than torch (OpenVINO)
read the number with `chosen_embedding_threads()`.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any, Literal

from loguru import logger

ProcessKind = Literal["query", "batch"]

_lock = threading.Lock()
_wanted: int | None = None
_hook: _AfterImport | None = None


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def embedding_threads(kind: ProcessKind, configured: int = 0) -> int:
    """Intra-op threads for encoding in a process of this kind: `configured` when > 0 (EMBEDDING_THREADS),
    else 1 for `query` and every available core for `batch`."""
    if kind not in ("query", "batch"):
        raise ValueError(f"kind must be query or batch, got {kind!r}")
    if configured < 0:
        raise ValueError(f"configured threads must be >= 0, got {configured}")
    if configured:
        return configured
    return 1 if kind == "query" else available_cores()


def use_embedding_threads(kind: ProcessKind, configured: int = 0) -> int:
    """Set torch's intra-op threads for this process kind: now when torch is loaded, else when it is
    imported. Returns the number (also what `chosen_embedding_threads()` answers afterwards)."""
    global _wanted, _hook
    threads = embedding_threads(kind, configured)
    with _lock:
        _wanted = threads
        torch = sys.modules.get("torch")
        if torch is None and _hook is None:
            _hook = _AfterImport("torch", _apply_wanted)
            sys.meta_path.insert(0, _hook)
    if torch is not None:
        _set_torch_threads(torch, threads)
    logger.debug("Embedding threads for a {} process: {}", kind, threads)
    return threads


def chosen_embedding_threads() -> int | None:
    """The number the process chose with `use_embedding_threads` (None if it never did): for encoders other
    than torch (e.g. an OpenVINO backend) to size their own thread pool the same way."""
    return _wanted


@contextlib.contextmanager
def embedding_threads_for(kind: ProcessKind, configured: int = 0) -> Iterator[int]:
    """Run the block with the threads of `kind` (see `use_embedding_threads`), then restore the number before.

    For batch work inside a process of another kind: the feature pipeline run from the API's web UI.
    """
    global _wanted
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    wanted_before = _wanted
    threads = use_embedding_threads(kind, configured)
    try:
        yield threads
    finally:
        with _lock:
            _wanted = wanted_before
        torch = sys.modules.get("torch")
        restore = before if before is not None else wanted_before
        if torch is not None and restore is not None:
            _set_torch_threads(torch, restore)


def _apply_wanted(torch: Any) -> None:
    if _wanted is not None:
        _set_torch_threads(torch, _wanted)


def _set_torch_threads(torch: Any, threads: int) -> None:
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


class _AfterImport(importlib.abc.MetaPathFinder):
    """A one-shot import hook: runs `callback(module)` right after module `name` is first imported."""

    def __init__(self, name: str, callback: Any):
        self.name = name
        self.callback = callback

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        global _hook
        if fullname != self.name:
            return None
        with _lock:
            if self in sys.meta_path:
                sys.meta_path.remove(self)  # the real finders find the module; never this hook again
            _hook = None
        spec = importlib.util.find_spec(fullname)
        loader = getattr(spec, "loader", None)
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module, callback = loader.exec_module, self.callback

        def exec_then_call(module: Any) -> None:
            exec_module(module)
            try:
                callback(module)
            except Exception as error:  # noqa: BLE001 - a thread setting must never break the import
                logger.warning("Setting {}'s threads after import failed: {}", fullname, error)

        loader.exec_module = exec_then_call
        return spec
