#!/usr/bin/env bash
# Sets up a fresh machine for this project: system packages, Poetry, and the locked environment.
#   bash scripts/setup.sh            # main dependencies + dev tools + the docs site's tools
#   bash scripts/setup.sh --with aws # also the optional AWS group
#   SKIP_LLAMACPP=1 bash scripts/setup.sh  # without the llama.cpp engine (local LLM on `transformers serve`)
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

# --- System packages: Chromium + its driver (crawlers), git (GitHub crawler), a C++ compiler (llama.cpp) -----
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v git >/dev/null 2>&1 || need_apt+=(git)
[ "${SKIP_LLAMACPP:-0}" = "1" ] || command -v c++ >/dev/null 2>&1 || need_apt+=(g++)
if ((${#need_apt[@]})); then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    log "installing ${need_apt[*]} with apt-get"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    log "WARNING: install ${need_apt[*]} with your package manager (browser crawling tests need them)"
  fi
fi

# --- Poetry and the index plugin ---------------------------------------------------------------------
PYTHON=${PYTHON:-python3}
if ! command -v poetry >/dev/null 2>&1; then
  log "installing Poetry"
  "$PYTHON" -m pip install --quiet "poetry>=2.1,<3"
fi
if ! poetry self show plugins 2>/dev/null | grep -q poetry-plugin-pypi-mirror; then
  # Some indexes serve only the simple API; this plugin lets Poetry lock and install from them.
  log "installing poetry-plugin-pypi-mirror next to Poetry"
  POETRY_PY="$(head -1 "$(command -v poetry)" | sed 's/^#!//')"
  if [ -x "$POETRY_PY" ]; then "$POETRY_PY" -m pip install --quiet poetry-plugin-pypi-mirror
  else "$PYTHON" -m pip install --quiet poetry-plugin-pypi-mirror; fi
fi
# pip's own configured default index, computed here and never written to a file.
POETRY_PYPI_MIRROR_URL="$("$PYTHON" -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)')"
export POETRY_PYPI_MIRROR_URL

# --- The locked environment ----------------------------------------------------------------------------
log "poetry install --with dev,docs $*"
poetry install --no-interaction --with dev,docs "$@"

# --- The llama.cpp engine of the local LLM (optional group `llamacpp`) -----------------------------------------
# llama-cpp-python is an sdist: Poetry compiles it in its isolated build env (scikit-build-core from the index,
# and cmake/ninja too when the system has none; the C++ compiler is the system's). CPU-only and portable: no
# -march=native (GGML_NATIVE=OFF keeps the AVX2/FMA/F16C baseline of x86-64 CPUs since 2013), no GPU or BLAS
# backend, no multimodal library, no llama.cpp tests, examples, tools or server. Poetry keeps the built wheel in
# its artifact cache, so a second run installs it in seconds. A failed build does not fail the setup: the local
# LLM then runs on `transformers serve`. Set CMAKE_ARGS yourself for another build (e.g. -DGGML_CUDA=ON).
if [ "${SKIP_LLAMACPP:-0}" = "1" ]; then
  log "SKIP_LLAMACPP=1: llama-cpp-python not installed; the local LLM runs on transformers serve"
else
  export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF}"
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"
  export CMAKE_BUILD_PARALLEL_LEVEL
  log "poetry install --with dev,docs,llamacpp: llama-cpp-python (compiles llama.cpp once: about 10 min on 2 cores)"
  started=$(date +%s)
  # Poetry shows nothing while it compiles: say every 30 s that it still works.
  ( while sleep 30; do log "  still building llama-cpp-python ($(( $(date +%s) - started )) s)"; done ) &
  ticker=$!
  status=0
  poetry install --no-interaction --with dev,docs,llamacpp "$@" || status=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  if [ "$status" -eq 0 ] && poetry run python -c "import llama_cpp" >/dev/null 2>&1; then
    log "llama.cpp engine ready ($(( $(date +%s) - started )) s)"
  else
    log "WARNING: llama-cpp-python could not be built or imported (see above); the setup goes on without it."
    log "  The local LLM falls back to 'transformers serve' (slower) with a notice; set LOCAL_LLM_ENGINE=transformers"
    log "  in .env to choose it and silence the notice, or install a C++17 compiler and run this script again."
  fi
fi
log "done: run tasks with 'poetry run poe <task>' (list: poetry run poe)"
