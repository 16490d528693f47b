"""scripts/register_aws_stack.sh (poe register-aws-stack): the zenml commands it prints in a dry run, that the
flavors and options they use exist in the installed ZenML, and that missing settings stop it before any
command runs."""

from __future__ import annotations

import os
import shlex
import subprocess

import pytest

from llm_engineering.infrastructure.zenml_secrets import SECRET_NAME as SETTINGS_SECRET
from tests.conftest import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "register_aws_stack.sh"
ACCOUNT = "123456789012"
SETTINGS = {
    "AWS_S3_BUCKET": "s3://twin-artifacts",
    "AWS_ARN_ROLE": f"arn:aws:iam::{ACCOUNT}:role/twin-sagemaker",
    "AWS_ACCOUNT_ID": ACCOUNT,
    "AWS_REGION": "eu-west-1",
}


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # A clean environment: only what the test passes, plus PATH for bash's own tools; `zenml` is a command
    # that fails, so nothing could reach a ZenML server even if the script tried.
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ZENML": "false", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _commands(output: str) -> list[list[str]]:
    return [shlex.split(line[2:]) for line in output.splitlines() if line.startswith("+ ")]


def _options(command: list[str]) -> dict[str, str]:
    return dict(item[2:].split("=", 1) for item in command if item.startswith("--") and "=" in item)


def test_dry_run_prints_every_zenml_command_in_order():
    result = _run("--dry-run", **SETTINGS)

    assert result.returncode == 0, result.stderr
    commands = _commands(result.stdout)
    assert [command[:4] for command in commands] == [
        ["false", "service-connector", "register", "aws-connector"],
        ["false", "artifact-store", "register", "aws-artifact-store"],
        ["false", "container-registry", "register", "aws-container-registry"],
        ["false", "orchestrator", "register", "aws-orchestrator"],
        ["false", "step-operator", "register", "aws-training"],
        ["false", "stack", "register", "aws-stack"],
        ["false", "stack", "update", "aws-stack"],
    ]
    connector, store, registry, orchestrator, step_operator, stack, update = commands
    assert connector[4:] == ["--type", "aws", "--auto-configure"]
    assert _options(store) == {"flavor": "s3", "path": "s3://twin-artifacts"}
    assert _options(registry) == {"flavor": "aws", "uri": f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"}
    assert _options(orchestrator) == {
        "flavor": "sagemaker",
        "execution_role": SETTINGS["AWS_ARN_ROLE"],
        "region": "eu-west-1",
        "instance_type": "ml.t3.medium",
        "synchronous": "true",
    }
    assert _options(step_operator) == {
        "flavor": "sagemaker",
        "role": SETTINGS["AWS_ARN_ROLE"],
        "instance_type": "ml.g5.2xlarge",
    }
    for command in (store, registry, orchestrator, step_operator):
        assert command[command.index("--connector") + 1] == "aws-connector"
    assert stack[4:] == [
        "-o",
        "aws-orchestrator",
        "-a",
        "aws-artifact-store",
        "-c",
        "aws-container-registry",
        "-s",
        "aws-training",
    ]
    # The project's settings reach the remote steps as environment variables through the stack's secret.
    assert update[4:] == ["--secret", SETTINGS_SECRET]
    assert f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/llm-twin-pipelines:latest" in result.stdout
    assert "no alerter" in result.stdout


def test_alerter_token_goes_into_a_zenml_secret_and_is_never_printed():
    result = _run(
        "--dry-run",
        "--activate",
        ZENML_AWS_STACK="twin-aws",
        ZENML_ALERTER_FLAVOR="discord",
        ZENML_ALERTER_TOKEN="very-secret-token",
        ZENML_ALERTER_CHANNEL_ID="42",
        **SETTINGS,
    )

    assert result.returncode == 0, result.stderr
    assert "very-secret-token" not in result.stdout + result.stderr
    commands = {tuple(command[1:3]): command for command in _commands(result.stdout)}
    assert commands[("secret", "create")][3:] == ["twin-aws-alerter", "--token=***"]
    alerter = commands[("alerter", "register")]
    assert alerter[3] == "twin-aws-alerter"
    assert _options(alerter) == {
        "flavor": "discord",
        "discord_token": "{{twin-aws-alerter.token}}",
        "default_discord_channel_id": "42",
    }
    stack = commands[("stack", "register")]
    assert stack[3] == "twin-aws" and stack[-3:] == ["-al", "twin-aws-alerter", "--set"]
    assert ("image-builder", "register") not in commands


def test_a_codebuild_project_adds_the_aws_image_builder():
    result = _run("--dry-run", AWS_CODEBUILD_PROJECT="twin-images", **SETTINGS)
    assert result.returncode == 0, result.stderr
    commands = {tuple(command[1:3]): command for command in _commands(result.stdout)}
    builder = commands[("image-builder", "register")]
    assert builder[3] == "aws-image-builder"
    assert _options(builder) == {"flavor": "aws", "code_build_project": "twin-images"}
    assert commands[("stack", "register")][-2:] == ["-i", "aws-image-builder"]


def test_missing_settings_stop_before_any_command():
    result = _run()
    assert result.returncode == 1
    assert result.stdout == ""
    for name in ("AWS_S3_BUCKET", "AWS_SAGEMAKER_ROLE_ARN", "AWS_ECR_REGISTRY"):
        assert name in result.stderr


def test_dry_run_without_settings_shows_placeholders():
    result = _run("--dry-run")
    assert result.returncode == 0, result.stderr
    assert "--path=s3://<AWS_S3_BUCKET>" in result.stdout
    assert "--execution_role=<AWS_SAGEMAKER_ROLE_ARN>" in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AWS_ECR_REGISTRY": f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/repo"}, "without '/<repository>'"),
        ({"ZENML_ALERTER_FLAVOR": "email"}, "must be slack or discord"),
    ],
)
def test_bad_settings_are_named(env, message):
    result = _run("--dry-run", **{**SETTINGS, **env})
    assert result.returncode == 1
    assert message in result.stderr


def test_flavors_and_options_exist_in_the_installed_zenml():
    from zenml.integrations.aws.flavors import (
        AWSContainerRegistryFlavor,
        AWSImageBuilderFlavor,
        SagemakerOrchestratorFlavor,
        SagemakerStepOperatorFlavor,
    )
    from zenml.integrations.discord.flavors import DiscordAlerterFlavor
    from zenml.integrations.s3.flavors import S3ArtifactStoreFlavor
    from zenml.integrations.slack.flavors import SlackAlerterFlavor

    flavors = {
        (flavor.type.value.replace("_", "-"), flavor.name): set(flavor.config_class.model_fields)
        for flavor in (
            flavor_class()
            for flavor_class in (
                AWSContainerRegistryFlavor,
                AWSImageBuilderFlavor,
                SagemakerOrchestratorFlavor,
                SagemakerStepOperatorFlavor,
                S3ArtifactStoreFlavor,
                SlackAlerterFlavor,
                DiscordAlerterFlavor,
            )
        )
    }
    printed = []
    for alerter in ("slack", "discord"):
        env = {
            **SETTINGS,
            "AWS_CODEBUILD_PROJECT": "twin-images",
            "ZENML_ALERTER_FLAVOR": alerter,
            "ZENML_ALERTER_TOKEN": "t",
            "ZENML_ALERTER_CHANNEL_ID": "1",
        }
        printed += _commands(_run("--dry-run", **env).stdout)
    checked = 0
    for command in printed:
        options = _options(command)
        if command[2] != "register" or "flavor" not in options:
            continue
        key = (command[1], options.pop("flavor"))
        assert key in flavors, f"unknown flavor {key}"
        assert set(options) <= flavors[key], f"{key}: {set(options) - flavors[key]}"
        checked += 1
    assert checked == 12  # five components with a flavor and an alerter, for each alerter flavor
