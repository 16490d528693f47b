"""llama.cpp's own quantizer (`llama_model_quantize`, through llama-cpp-python's bindings): GGUF -> K-quant GGUF.

gguf-py writes F16 and Q8_0 itself but cannot make K-quants; `LlamaCppQuantizer` turns an F16 export into
Q4_K_M (or another llama.cpp file type) as `llama-quantize` would. It implements the model layer's
`GGUFQuantizer` (`model.gguf_bundle`). `llama_cpp` is imported inside methods: the package is an optional
group and may be absent, which `problem()` reports instead of an ImportError.
"""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

from loguru import logger

from llm_engineering.model.errors import ModelConversionError

# Quantization name -> the LLAMA_FTYPE_* constant of llama.cpp (llama-cpp-python exposes them by this name).
FILE_TYPES = {
    "Q4_K_M": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "Q4_K_S": "LLAMA_FTYPE_MOSTLY_Q4_K_S",
    "Q5_K_M": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
    "Q6_K": "LLAMA_FTYPE_MOSTLY_Q6_K",
    "Q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
}
INSTALL_HINT = "install it with `bash scripts/setup.sh` (or `poetry install --with llamacpp`)"


class LlamaCppQuantizer:
    """Quantizes GGUF files with llama.cpp's C quantizer on `threads` CPU threads (0: all of them)."""

    def __init__(self, threads: int = 0):
        self.threads = threads

    def problem(self) -> str | None:
        """Why the quantizer cannot run here (llama-cpp-python missing or its library not loading); None when
        it can."""
        try:
            import llama_cpp  # noqa: F401
        except Exception as error:  # noqa: BLE001 - ImportError, or OSError from a library that does not load
            return f"llama-cpp-python cannot be imported ({type(error).__name__}: {error}); {INSTALL_HINT}"
        return None

    def quantize(self, source: Path, target: Path, quantization: str) -> Path:
        """Write `source` (an F16/F32 GGUF) quantized as `quantization` to `target`, through a temp file
        renamed at the end. Returns `target`; raises ModelConversionError when it cannot."""
        if quantization not in FILE_TYPES:
            raise ModelConversionError(
                f"llama.cpp quantization {quantization!r} is not offered here; use one of {', '.join(FILE_TYPES)}."
            )
        problem = self.problem()
        if problem is not None:
            raise ModelConversionError(f"Quantizing to {quantization} needs llama.cpp: {problem}.")
        import llama_cpp

        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, FILE_TYPES[quantization])
        params.nthread = self.threads
        partial = target.with_name(target.name + ".partial")
        started = time.perf_counter()
        # llama.cpp logs every tensor through llama-cpp-python's callback, which prints to sys.stderr: kept
        # out of the console, and its last lines put in the error when quantizing fails.
        log = io.StringIO()
        with contextlib.redirect_stderr(log):
            status = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), params)
        if status != 0 or not partial.is_file():
            partial.unlink(missing_ok=True)
            reason = " ".join(line.strip() for line in log.getvalue().strip().splitlines()[-2:])
            raise ModelConversionError(
                f"llama.cpp could not quantize {source} to {quantization} (status {status}): {reason or 'no reason given'}"
            )
        partial.replace(target)
        logger.info(
            "Quantized {} to {} ({}) in {:.1f}s", source.name, target, quantization, time.perf_counter() - started
        )
        return target
