"""Switch the served model (what `local-llm-up` serves and the API asks for) and promote twin versions, with
the checks the web UI's /models buttons and continuous training use.

    poetry run poe serve-model --model llm_twin:v3        # or llm_twin:production, llm_twin:latest, base
    poetry run poe promote-model --model llm_twin:v3      # mark production (--serve: and serve it)
    poetry run poe served-model                           # which model answers, and why

A running local LLM server loads the new model at once; the API picks it up on its next request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from llm_engineering.application.serving.served_model import ModelServing
    from llm_engineering.settings import Settings

BY = "cli"
SPEC_HELP = (
    "llm_twin:vN, llm_twin:production, llm_twin:latest (a registered version of LOCAL_DATA_DIR/registry) or base."
)


def _settings() -> Settings:
    from llm_engineering.settings import get_settings

    return get_settings()


def _serving(settings: Settings) -> ModelServing:
    from llm_engineering import bootstrap

    return bootstrap.build_model_serving(settings)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The served model: show it, switch it, promote a version."""
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported


@main.command()
def show() -> None:
    """Print the model the API asks for, where that comes from, and the local engine's served model."""
    from llm_engineering import bootstrap

    settings = _settings()
    serving = _serving(settings)
    current = serving.current()
    click.echo(f"The API asks: {current.describe()}")
    if current.source == "LLM_MODEL_ID":
        click.echo(f"The local engine's served model (LLM_MODEL_ID aside): {serving.chosen().describe()}")
    click.echo(f"Record: {bootstrap.served_model_file(settings)}")


@main.command()
@click.option("--model", "spec", required=True, metavar="SPEC", help=SPEC_HELP)
@click.option("--reason", default="", help="Why (kept in the record).")
def serve(spec: str, reason: str) -> None:
    """Make SPEC the served model: checked, published into LOCAL_DATA_DIR/models, loaded by a running local
    LLM server, then recorded; the API asks it from its next request."""
    from llm_engineering import bootstrap
    from llm_engineering.domain.exceptions import LLMTwinError

    settings = _settings()
    try:
        switch = _serving(settings).serve(spec, by=BY, reason=reason)
    except LLMTwinError as error:
        raise click.ClickException(str(error)) from error
    for line in switch.lines():
        click.echo(line)
    click.echo(f"Recorded in {bootstrap.served_model_file(settings)}")


@main.command()
@click.option("--model", "spec", required=True, metavar="SPEC", help="llm_twin:vN or llm_twin:latest.")
@click.option("--serve/--no-serve", "serve_it", default=False, show_default=True, help="Also make it the served model.")
@click.option("--reason", default="", help="Why (kept in the registry's aliases and the record).")
def promote(spec: str, serve_it: bool, reason: str) -> None:
    """Mark SPEC as the twin's production version (the checks of continuous training's promotion). With no
    model chosen, production is what is served, so this switches the served model too."""
    from llm_engineering.domain.exceptions import LLMTwinError

    settings = _settings()
    try:
        promotion = _serving(settings).promote(spec, by=BY, reason=reason, serve=serve_it)
    except LLMTwinError as error:
        raise click.ClickException(str(error)) from error
    for line in promotion.lines():
        click.echo(line)


if __name__ == "__main__":
    main()
