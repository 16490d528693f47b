# syntax=docker/dockerfile:1
# Two images from one file, both running as the unprivileged user `app` (uid 10001):
#   docker build --target api -t llm-twin-api .              the RAG service on :8000 (GET /health, POST /rag)
#   docker build --target pipelines -t llm-twin-pipelines .  ZenML pipelines with Chromium for the crawlers
# Build arguments: POETRY_WITH=aws (default) adds the optional AWS group (sagemaker, s3fs) that SageMaker
# steps and the S3 artifact store need; POETRY_WITH= leaves it out.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: Poetry installs the locked dependencies into /opt/venv ---------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ARG POETRY_VERSION=2.5.1
ARG POETRY_PLUGIN_PYPI_MIRROR_VERSION=0.6.5
ARG POETRY_WITH=aws

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    POETRY_NO_INTERACTION=1 \
    POETRY_VIRTUALENVS_CREATE=false \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Poetry lives in its own venv so that none of its packages end up in the application's.
RUN python -m venv /opt/poetry \
    && /opt/poetry/bin/pip install "poetry==${POETRY_VERSION}" \
        "poetry-plugin-pypi-mirror==${POETRY_PLUGIN_PYPI_MIRROR_VERSION}" \
    && python -m venv /opt/venv

WORKDIR /app
COPY pyproject.toml poetry.lock README.md ./
# Dependencies before the code, so a code change reuses this (large) layer. The mirror URL is pip's own
# default index, computed at build time: some indexes only serve the simple API that this plugin uses.
RUN POETRY_PYPI_MIRROR_URL="$(python -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)')" \
    /opt/poetry/bin/poetry install --no-root --without dev ${POETRY_WITH:+--with "$POETRY_WITH"} \
    && rm -rf /root/.cache

COPY llm_engineering ./llm_engineering
COPY pipelines ./pipelines
COPY steps ./steps
COPY tools ./tools
COPY configs ./configs
# The project itself, as an editable install pointing at /app (the same path in the runtime images).
RUN POETRY_PYPI_MIRROR_URL="$(python -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)')" \
    /opt/poetry/bin/poetry install --only-root \
    && rm -rf /root/.cache

# --- runtime: the venv and the code, no build tools ----------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HOME=/home/app \
    LOCAL_DATA_DIR=/app/.local

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home --shell /usr/sbin/nologin app

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# Code stays owned by root (read-only for `app`); only the data folders are writable.
COPY --from=builder /app /app
RUN mkdir -p /app/.local /app/output \
    && chown app:app /app/.local /app/output

# --- api: the RAG business service (uvicorn) ---------------------------------------------------------------------
FROM runtime AS api

USER 10001:10001
EXPOSE 8000
# /health answers as soon as the process serves requests (/ready also checks the stores and the LLM).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["uvicorn", "tools.ml_service:app", "--host", "0.0.0.0", "--port", "8000"]

# --- pipelines: ZenML steps, with Chromium + chromedriver (Selenium crawlers) and git (GitHub crawler) -----
FROM runtime AS pipelines

ENV CHROMEDRIVER_PATH=/usr/bin/chromedriver \
    CHROMIUM_PATH=/usr/bin/chromium

RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium chromium-driver git \
    && rm -rf /var/lib/apt/lists/*

USER 10001:10001
# ZenML's remote orchestrators (SageMaker) replace this command with their step entrypoint.
CMD ["python", "-m", "tools.run", "--help"]
