#!/usr/bin/env bash
# Lint the container files without a Docker engine: hadolint on the Dockerfile, and `docker compose config`
# (schema, interpolation, profiles) where the compose plugin is installed; skipped with a note otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
hadolint --config .hadolint.yaml Dockerfile
echo "hadolint: Dockerfile ok"
if docker compose version >/dev/null 2>&1; then
  docker compose -f docker-compose.yml config --quiet
  docker compose -f docker-compose.yml --profile gpu --profile api config --quiet
  echo "docker compose config: ok"
else
  echo "docker compose config: skipped (no compose plugin on this machine)"
fi
