"""How the pipelines are containerised on a remote stack (SageMaker orchestrator, Kubernetes, ...): the
project's own Dockerfile, `pipelines` target (Chromium, git, the locked dependencies), as the parent image
ZenML adds its layer to. Local runs ignore these settings."""

from __future__ import annotations

from zenml.config import DockerSettings
from zenml.config.docker_settings import DockerBuildConfig

from llm_engineering.telemetry import VENDOR_OPT_OUTS

PIPELINES_DOCKER_SETTINGS = DockerSettings(
    dockerfile="Dockerfile",
    build_context_root=".",
    parent_image_build_config=DockerBuildConfig(build_options={"target": "pipelines"}),
    # The image already holds the lock's packages; ZenML only adds what the stack's components need.
    disable_automatic_requirements_detection=True,
    install_stack_requirements=True,
    # Step containers start with the vendors' telemetry off, before Python imports anything (see telemetry.py).
    environment={"PYTHONUNBUFFERED": "1", **VENDOR_OPT_OUTS},
)
PIPELINE_SETTINGS = {"docker": PIPELINES_DOCKER_SETTINGS}
