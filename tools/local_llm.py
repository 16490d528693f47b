"""The local LLM microservice: convert the packaged Gemma 3 270M once, then serve it OpenAI-compatibly.

python -m tools.local_llm up | down | status
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from llm_engineering.infrastructure.local.llm_server import LocalLLMServer
    from llm_engineering.settings import Settings


def _server() -> tuple[Settings, LocalLLMServer]:
    from llm_engineering.domain.exceptions import LLMTwinError
    from llm_engineering.infrastructure.local.llm_server import LocalLLMServer
    from llm_engineering.settings import get_settings

    settings = get_settings()
    try:
        return settings, LocalLLMServer.from_settings(settings)
    except LLMTwinError as error:  # e.g. an LLM_MODEL_ID that cannot name a local folder
        raise click.ClickException(str(error)) from error


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Local OpenAI-compatible LLM server (`transformers serve`) on LOCAL_LLM_PORT."""


@main.command()
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait for the server to be healthy.")
def up(timeout: float) -> None:
    """Convert the model if needed (cached), then start the server as a daemon (safe to run twice)."""
    from llm_engineering.domain.exceptions import LLMTwinError
    from llm_engineering.infrastructure.local.llm_server import uses_local_llm
    from llm_engineering.model.gguf_conversion import convert_gguf_model

    settings, server = _server()
    try:
        convert_gguf_model(server.model_dir)
        click.echo(server.start(timeout_s=timeout))
    except LLMTwinError as error:
        raise click.ClickException(str(error)) from error
    if not uses_local_llm(settings):
        click.echo(
            f"note: clients use LLM_PROVIDER={settings.LLM_PROVIDER} LLM_BASE_URL={settings.LLM_BASE_URL}; "
            f"set LLM_PROVIDER=openai LLM_BASE_URL={server.url} to use this server."
        )


@main.command()
def down() -> None:
    """Stop the server started by `up` (safe to run twice)."""
    _, server = _server()
    click.echo(server.stop())


@main.command()
def status() -> None:
    """Print whether the server answers."""
    _, server = _server()
    click.echo(server.status().describe())


if __name__ == "__main__":
    main()
