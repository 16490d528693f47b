"""The LLM microservice on AWS SageMaker: IAM setup, deployment, a test call and deletion.

python -m tools.sagemaker create-sagemaker-role [--user-name NAME] [--output FILE]
python -m tools.sagemaker create-sagemaker-execution-role [--role-name NAME] [--output FILE]
python -m tools.sagemaker deploy-inference-endpoint [--dry-run] [--wait] [--autoscaling] [--model-data S3_URI] ...
python -m tools.sagemaker test-sagemaker-endpoint [--prompt TEXT]
python -m tools.sagemaker delete-inference-endpoint [--wait]

Without AWS credentials, deploy-inference-endpoint prints its plan as a dry run instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from llm_engineering.infrastructure.aws.deploy import SageMakerEndpointDeployer
    from llm_engineering.infrastructure.aws.roles import SageMakerIam
    from llm_engineering.settings import Settings

USER_CREDENTIALS_FILE = Path("output/aws/sagemaker_user_credentials.json")
EXECUTION_ROLE_FILE = Path("output/aws/sagemaker_execution_role.json")
BOOK_PROMPT = "Write me a post about AWS SageMaker inference endpoints."
COST_WARNING = (
    "Cost: a SageMaker endpoint bills for every hour its GPU instances exist, called or not. "
    "Delete it when done: poetry run poe delete-inference-endpoint"
)


# --- Composition (replaced by the tests) ------------------------------------------------------------------------
def _settings() -> Settings:
    from llm_engineering.settings import get_settings

    return get_settings()


def _session(settings: Settings) -> Any:
    from llm_engineering import bootstrap

    return bootstrap.aws_session(settings)


def _has_credentials(session: Any) -> bool:
    from llm_engineering.infrastructure.aws.session import has_credentials

    return has_credentials(session)


def _deployer(settings: Settings, session: Any) -> SageMakerEndpointDeployer:
    from llm_engineering import bootstrap

    return bootstrap.build_endpoint_deployer(settings, session)


def _iam(settings: Settings, session: Any, progress: Callable[[str], None]) -> SageMakerIam:
    from llm_engineering import bootstrap

    return bootstrap.build_sagemaker_iam(settings, session, progress)


def _runtime(settings: Settings) -> Any:
    from llm_engineering.infrastructure.llm.sagemaker import sagemaker_runtime_client

    return sagemaker_runtime_client(
        settings.AWS_REGION,
        settings.AWS_ACCESS_KEY.get_secret_value() if settings.AWS_ACCESS_KEY else None,
        settings.AWS_SECRET_KEY.get_secret_value() if settings.AWS_SECRET_KEY else None,
        read_timeout_s=settings.LLM_TIMEOUT_S,
    )


@contextmanager
def _project_errors() -> Iterator[None]:
    """The project's errors (bad settings, AWS refusals) as one-line CLI errors, without a traceback."""
    from llm_engineering.domain.exceptions import LLMTwinError

    try:
        yield
    except LLMTwinError as error:
        raise click.ClickException(str(error)) from error


def _credentialed_session(settings: Settings, doing: str) -> Any:
    session = _session(settings)
    if not _has_credentials(session):
        raise click.ClickException(
            f"No AWS credentials to {doing}: set AWS_ACCESS_KEY and AWS_SECRET_KEY in .env (or an AWS profile)."
        )
    return session


# --- Commands ---------------------------------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """SageMaker: IAM user and execution role, the LLM endpoint (deploy, test, delete)."""
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported


@main.command("create-sagemaker-role")
@click.option("--user-name", default=None, help="IAM user to create or reuse (default SAGEMAKER_USER_NAME).")
@click.option("--output", type=click.Path(path_type=Path), default=USER_CREDENTIALS_FILE, show_default=True)
def create_sagemaker_role(user_name: str | None, output: Path) -> None:
    """Create the narrow IAM user that may only do SageMaker, ECR and S3 work, and write its access key to
    OUTPUT (mode 0600; the key is never printed). Run it with admin keys in AWS_ACCESS_KEY / AWS_SECRET_KEY."""
    with _project_errors():
        settings = _settings()
        iam = _iam(settings, _credentialed_session(settings, "create the IAM user"), click.echo)
        name = user_name or settings.SAGEMAKER_USER_NAME
        result = iam.create_deployment_user(name, output, settings.SAGEMAKER_EXECUTION_ROLE_NAME)
    click.echo(f"IAM user {result.user_name}: {result.arn}")


@main.command("create-sagemaker-execution-role")
@click.option("--role-name", default=None, help="IAM role to create or reuse (default SAGEMAKER_EXECUTION_ROLE_NAME).")
@click.option("--output", type=click.Path(path_type=Path), default=EXECUTION_ROLE_FILE, show_default=True)
def create_sagemaker_execution_role(role_name: str | None, output: Path) -> None:
    """Create the role SageMaker assumes (S3, CloudWatch Logs, ECR) and write its ARN to OUTPUT."""
    with _project_errors():
        settings = _settings()
        iam = _iam(settings, _credentialed_session(settings, "create the execution role"), click.echo)
        result = iam.create_execution_role(role_name or settings.SAGEMAKER_EXECUTION_ROLE_NAME, output)
    click.echo(f"Execution role ARN (also in {output}):\n  {result.arn}")
    click.echo(f"Set it in .env: AWS_ARN_ROLE={result.arn}")


@main.command("deploy-inference-endpoint")
@click.option("--endpoint-type", type=click.Choice(["model", "inference-component"]), default=None)
@click.option("--container", type=click.Choice(["tgi", "lmi"]), default=None, help="Default SAGEMAKER_CONTAINER.")
@click.option("--image-uri", default=None, help="Serving image (default SAGEMAKER_INFERENCE_IMAGE_URI, else the DLC).")
@click.option("--model-id", default=None, help="Hugging Face model id (default HF_MODEL_ID).")
@click.option("--model-data", default=None, metavar="S3_URI", help="s3://.../model.tar.gz instead of a Hub id.")
@click.option("--autoscaling/--no-autoscaling", default=None, help="Default SAGEMAKER_AUTOSCALING; implies waiting.")
@click.option("--wait", is_flag=True, help="Wait until the model is in service (15-30 minutes).")
@click.option("--dry-run", is_flag=True, help="Print every AWS call it would make, secrets masked; call nothing.")
def deploy_inference_endpoint(
    endpoint_type: str | None,
    container: str | None,
    image_uri: str | None,
    model_id: str | None,
    model_data: str | None,
    autoscaling: bool | None,
    wait: bool,
    dry_run: bool,
) -> None:
    """Deploy the twin's LLM to the SageMaker endpoint SAGEMAKER_ENDPOINT_INFERENCE, or update it when it
    exists (a new model and endpoint config, then update_endpoint / update_inference_component)."""
    from llm_engineering import bootstrap

    chosen = {
        "endpoint_type": endpoint_type,
        "container": container,
        "image_uri": image_uri,
        "model_id": model_id,
        "model_data": model_data,
    }
    with _project_errors():
        settings = _settings()
        spec = bootstrap.endpoint_spec(
            settings, autoscaling=autoscaling, **{key: value for key, value in chosen.items() if value is not None}
        )
        session = _session(settings)
        reason = "--dry-run" if dry_run else None
        if reason is None and not _has_credentials(session):
            reason = "no AWS credentials: set AWS_ACCESS_KEY and AWS_SECRET_KEY in .env, or an AWS profile"
        deployer = _deployer(settings, session)
        if reason is not None:
            _print_dry_run(deployer, spec, wait, reason)
            return
        plan = deployer.deploy(spec, wait=wait, progress=click.echo)
    if wait or spec.autoscaling:
        state = "in service"
    elif plan.action == "update":
        state = "updating (add --wait to follow it)"
    else:
        state = "being created (15-30 minutes; add --wait to follow it)"
    click.echo(f"Endpoint {spec.endpoint_name}: {state}. Model {plan.model_name}.")
    click.echo("Try it: poetry run poe test-sagemaker-endpoint")
    click.echo(COST_WARNING)


def deploy_for_continuous_training() -> str:
    """Continuous training's deploy stage: (re)deploy the endpoint from the settings (HF_MODEL_ID: the twin
    pushed to the Hub by training) and say what was done; without AWS credentials it raises, so a CT run
    configured for SageMaker never reports a deployment that did not happen."""
    from llm_engineering import bootstrap
    from llm_engineering.domain.exceptions import ImproperlyConfigured

    settings = _settings()
    spec = bootstrap.endpoint_spec(settings)
    session = _session(settings)
    if not _has_credentials(session):
        raise ImproperlyConfigured(
            "deploy_target is sagemaker but no AWS credentials are configured (AWS_ACCESS_KEY / AWS_SECRET_KEY "
            "or an AWS profile)."
        )
    plan = _deployer(settings, session).deploy(spec, wait=False, progress=click.echo)
    return f"SageMaker endpoint {spec.endpoint_name}: {plan.action} with model {plan.model_name}"


def _print_dry_run(deployer: SageMakerEndpointDeployer, spec: Any, wait: bool, reason: str) -> None:
    plan = deployer.plan(spec, wait=wait)
    click.echo(f"Dry run ({reason}): no AWS call was made.")
    click.echo(f"Plan: {plan.summary()}.")
    update = "update_inference_component" if spec.inference_components else "a new endpoint config + update_endpoint"
    click.echo(
        f"It first calls sagemaker.describe_endpoint: if {spec.endpoint_name} exists, it deploys a new model with "
        f"{update} instead. Then, secrets masked:"
    )
    for line in plan.lines():
        click.echo(line)
    for note in spec.notes():
        click.echo(f"Note: {note}")
    problems = spec.problems()
    if problems:
        click.echo("Before deploying for real:")
        for problem in problems:
            click.echo(f"  - {problem}")
    click.echo(COST_WARNING)


@main.command("test-sagemaker-endpoint")
@click.option("--prompt", default=BOOK_PROMPT, show_default=True)
@click.option("--max-new-tokens", type=click.IntRange(1, 4096), default=None, help="Default MAX_NEW_TOKENS_INFERENCE.")
def test_sagemaker_endpoint(prompt: str, max_new_tokens: int | None) -> None:
    """Ask the deployed endpoint one question through the project's SageMaker LLM client; print the answer."""
    from llm_engineering.application.llm.client import ChatMessage
    from llm_engineering.bootstrap import generation_parameters
    from llm_engineering.infrastructure.llm.sagemaker import SageMakerTGIClient

    with _project_errors():
        settings = _settings()
        _credentialed_session(settings, "call the endpoint")
        component = None
        if settings.SAGEMAKER_ENDPOINT_TYPE == "inference-component":
            component = settings.SAGEMAKER_INFERENCE_COMPONENT
        client = SageMakerTGIClient(
            settings.SAGEMAKER_ENDPOINT_INFERENCE,
            _runtime(settings),
            inference_component_name=component,
            defaults=generation_parameters(settings).merged(max_new_tokens=max_new_tokens),
            model_id=settings.HF_MODEL_ID,
        )
        response = client.chat([ChatMessage(role="user", content=prompt)])
    target = settings.SAGEMAKER_ENDPOINT_INFERENCE + (f" / {component}" if component else "")
    click.echo(f"Endpoint: {target}\nPrompt: {prompt}\n\nAnswer:\n{response.text.strip()}\n")
    click.echo(f"({response.latency_s:.1f} s, {response.completion_tokens or '?'} new tokens)")


@main.command("delete-inference-endpoint")
@click.option("--wait", is_flag=True, help="Wait until the endpoint is gone.")
def delete_inference_endpoint(wait: bool) -> None:
    """Delete the endpoint's autoscaling, inference components, the endpoint, and the endpoint configs and
    models the deployments created. What does not exist is said and skipped."""
    from llm_engineering import bootstrap

    with _project_errors():
        settings = _settings()
        session = _credentialed_session(settings, "delete the endpoint")
        spec = bootstrap.endpoint_spec(settings)
        _deployer(settings, session).delete(spec, wait=wait, progress=click.echo)
    click.echo("Done: check the SageMaker console (Inference > Endpoints) if in doubt.")


if __name__ == "__main__":
    main()
