"""Run a command on this checkout's ZenML store: the `zenml` CLI, or a script that calls it.

    python -m tools.zenml_env zenml pipeline runs list      # or: poetry run poe zenml pipeline runs list
    python -m tools.zenml_env bash scripts/register_aws_stack.sh --dry-run

ZENML_CONFIG_PATH is set to LOCAL_DATA_DIR/zenml (.local/zenml) unless you set it yourself or point at a
ZenML server with ZENML_STORE_URL (see llm_engineering/infrastructure/zenml_home.py); a plain `zenml` in a
shell uses ZenML's machine-wide folder instead.
"""

from __future__ import annotations

import os
import sys

import click


@click.command(
    context_settings={
        "help_option_names": ["-h", "--help"],
        # Everything after the command's name is the command's own (its --help included).
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
    }
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def main(command: tuple[str, ...]) -> None:
    """Run COMMAND (e.g. `zenml stack list`) with ZENML_CONFIG_PATH on this checkout's store; exits as it does."""
    from llm_engineering.bootstrap import use_project_zenml_store
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: the zenml CLI reads ZENML_ANALYTICS_OPT_IN too
    home = use_project_zenml_store()
    if home is not None:
        click.echo(f"ZenML store: {home.describe()}", err=True)

    from llm_engineering.infrastructure.local.processes import venv_executable

    program = venv_executable(command[0]) if command[0] == "zenml" else command[0]
    try:
        os.execvp(program, [program, *command[1:]])  # this process becomes the command: its exit code is ours
    except OSError as error:
        raise click.ClickException(f"cannot run {command[0]!r}: {error}") from error


if __name__ == "__main__":
    sys.exit(main())
