"""The local LLM microservice: convert the packaged Gemma 3 270M once, then serve it OpenAI-compatibly.

python -m tools.local_llm up | down | status
"""

from __future__ import annotations

import click


def _server():  # type: ignore[no-untyped-def]
    from llm_engineering.infrastructure.local_llm import LocalLLMServer, local_model_dir
    from llm_engineering.settings import get_settings

    settings = get_settings()
    model_dir = local_model_dir(settings.LOCAL_DATA_DIR / "models", settings.LLM_MODEL_ID)
    return settings, LocalLLMServer(model_dir, port=settings.LOCAL_LLM_PORT, run_dir=settings.LOCAL_DATA_DIR / "run")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Local OpenAI-compatible LLM server (`transformers serve`) on LOCAL_LLM_PORT."""


@main.command()
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait for the server to be healthy.")
def up(timeout: float) -> None:
    """Convert the model if needed (cached), then start the server as a daemon (safe to run twice)."""
    from llm_engineering.infrastructure.local_llm import convert_gguf_model

    settings, server = _server()
    convert_gguf_model(server.model_dir)
    click.echo(server.start(timeout_s=timeout))
    expected = server.url
    if settings.LLM_PROVIDER != "openai" or expected != settings.LLM_BASE_URL:
        click.echo(
            f"note: clients use LLM_PROVIDER={settings.LLM_PROVIDER} LLM_BASE_URL={settings.LLM_BASE_URL}; "
            f"set LLM_BASE_URL={expected} to use this server."
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
