"""docker-compose.yml read with PyYAML (`docker compose config` runs only where the compose plugin exists, see
scripts/lint_docker.sh): the services, their profiles, health checks, dependency conditions and defaults
agree with the Dockerfile and the settings."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from llm_engineering.settings import Settings, load_settings
from tests.conftest import PROJECT_ROOT

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::-(?P<default>[^}]*))?\}")


def _default(value: Any) -> str:
    """`value` with every ${NAME:-default} replaced by its default, as compose does when NAME is unset."""
    return _VARIABLE.sub(lambda match: match["default"] or "", str(value))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict[str, Any]:
    return compose["services"]


def test_services_and_profiles(services):
    assert set(services) == {"mongo", "qdrant", "api", "vllm"}
    # `docker compose up -d` (local-infrastructure-up) starts only the stores.
    assert "profiles" not in services["mongo"] and "profiles" not in services["qdrant"]
    assert services["api"]["profiles"] == ["api"]
    assert services["vllm"]["profiles"] == ["gpu"]


@pytest.mark.parametrize("name", ["mongo", "qdrant", "api", "vllm"])
def test_every_service_has_a_health_check(services, name):
    check = services[name]["healthcheck"]
    assert check["test"][0] == "CMD" and len(check["test"]) > 1
    assert {"interval", "timeout", "retries"} <= set(check)
    if check["test"][1] in ("python", "python3"):
        # The probe is a Python one-liner: it must at least compile.
        compile(check["test"][3], f"<{name} healthcheck>", "exec")


def test_qdrant_check_asks_the_readiness_route(services):
    assert "/readyz" in " ".join(services["qdrant"]["healthcheck"]["test"])


def test_images_are_pinned(services):
    for name, service in services.items():
        if "image" in service and "build" not in service:
            repository, _, tag = service["image"].rpartition(":")
            assert repository and tag and tag != "latest", f"{name}: {service['image']}"
    assert re.fullmatch(r"vllm/vllm-openai:v\d+\.\d+\.\d+", services["vllm"]["image"])


def test_ports_are_published_on_loopback_only(services):
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


def test_api_builds_the_api_target_and_waits_for_healthy_stores(services):
    api = services["api"]
    assert api["build"] == {"context": ".", "target": "api"}
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM\s+\S+\s+AS\s+api\s*$", dockerfile, re.MULTILINE)
    depends = api["depends_on"]
    assert {name: spec["condition"] for name, spec in depends.items()} == {
        "mongo": "service_healthy",
        "qdrant": "service_healthy",
        "vllm": "service_healthy",
    }
    # The LLM is optional: without the gpu profile the API starts and points wherever TWIN_API_LLM_BASE_URL says.
    assert depends["vllm"]["required"] is False
    assert depends["mongo"].get("required", True) is True
    assert "127.0.0.1:8000:8000" in api["ports"]
    assert "8000/health" in " ".join(api["healthcheck"]["test"])


def test_api_environment_points_at_the_compose_services(services):
    env = {key: _default(value) for key, value in services["api"]["environment"].items()}
    settings = load_settings(env_file=PROJECT_ROOT / "tests" / "no.env", **env)
    assert settings.DATABASE_HOST == "mongodb://mongo:27017"
    assert settings.qdrant_server_url == "http://qdrant:6333"
    llm = urlparse(settings.LLM_BASE_URL)
    assert llm.hostname == "vllm" and llm.path == "/v1"
    vllm_command = [_default(part) for part in services["vllm"]["command"]]
    assert str(llm.port) == vllm_command[vllm_command.index("--port") + 1]
    # The API asks for the model id vLLM serves.
    assert services["api"]["environment"]["LLM_MODEL_ID"] == "${LLM_MODEL_ID:-llm-twin}"
    assert vllm_command[vllm_command.index("--served-model-name") + 1] == "llm-twin"
    assert services["vllm"]["command"][vllm_command.index("--served-model-name") + 1] == "${LLM_MODEL_ID:-llm-twin}"


def test_vllm_serves_the_mounted_model_on_the_settings_default_port(services):
    vllm = services["vllm"]
    assert vllm["entrypoint"] == ["vllm", "serve"]
    command = [_default(part) for part in vllm["command"]]
    (volume,) = vllm["volumes"]
    source, target, mode = volume.rsplit(":", 2)
    assert source == "${LLM_TWIN_MODEL_DIR:-./output/models/llm_twin}" and mode == "ro"
    assert command[0] == target
    # Published where the project's default LLM_BASE_URL points, so host tools need no setting.
    default_url = urlparse(Settings.model_fields["LLM_BASE_URL"].default)
    host_port = [port for port in vllm["ports"] if port.endswith(f":{command[command.index('--port') + 1]}")]
    assert host_port == [f"127.0.0.1:{default_url.port}:8000"]
    (device,) = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert "--max-model-len" in command and "--dtype" in command
    assert "8000/health" in " ".join(vllm["healthcheck"]["test"])
