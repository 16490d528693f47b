#!/usr/bin/env bash
# Sets up a fresh machine for this project: system packages, Poetry, and the locked environment.
#   bash scripts/setup.sh            # main dependencies + dev tools
#   bash scripts/setup.sh --with aws # also the optional AWS group
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

# --- System packages: Chromium + its driver (crawlers), git (GitHub crawler) ----------------------
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v git >/dev/null 2>&1 || need_apt+=(git)
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
log "poetry install --with dev $*"
poetry install --no-interaction --with dev "$@"
log "done: run tasks with 'poetry run poe <task>' (list: poetry run poe)"
