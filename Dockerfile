# Image for running the pipelines (e.g. on a ZenML remote orchestrator) and the RAG API.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    POETRY_VIRTUALENVS_CREATE=false \
    POETRY_NO_INTERACTION=1 \
    CHROMEDRIVER_PATH=/usr/bin/chromedriver \
    CHROMIUM_PATH=/usr/bin/chromium

# Chromium and its driver from Debian (the Selenium crawlers), git (the GitHub crawler).
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium chromium-driver git curl \
    && rm -rf /var/lib/apt/lists/*

RUN pip install --no-cache-dir "poetry>=2.1,<3" poetry-plugin-pypi-mirror

WORKDIR /app
COPY pyproject.toml poetry.lock README.md ./
# Dependencies first, so code changes do not invalidate this layer.
RUN POETRY_PYPI_MIRROR_URL="$(python -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)')" \
    poetry install --no-root --without dev && rm -rf /root/.cache

COPY llm_engineering ./llm_engineering
COPY pipelines ./pipelines
COPY steps ./steps
COPY tools ./tools
COPY configs ./configs
RUN POETRY_PYPI_MIRROR_URL="$(python -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)')" \
    poetry install --only-root

EXPOSE 8000
CMD ["python", "-m", "tools.run", "--help"]
