"""The local LLM microservice: serve the served model (the twin chosen with `poe serve-model`, else the
production twin, else the packaged Gemma 3 270M) OpenAI-compatibly with llama.cpp (GGUF) or, with
LOCAL_LLM_ENGINE=transformers, `transformers serve`; every model of LOCAL_DATA_DIR/models on the same server.

python -m tools.local_llm up [--model SPEC] | down | status | models
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from llm_engineering.infrastructure.local.llm_server import LocalLLMServer
    from llm_engineering.settings import Settings


def _settings() -> Settings:
    from llm_engineering.settings import get_settings

    return get_settings()


def _server(settings: Settings, model_id: str | None = None) -> LocalLLMServer:
    from llm_engineering import bootstrap
    from llm_engineering.domain.exceptions import LLMTwinError

    try:
        return bootstrap.build_local_llm_server(settings, model_id)
    except LLMTwinError as error:  # e.g. an LLM_MODEL_ID that cannot name a local folder
        raise click.ClickException(str(error)) from error


def _prepare(server: LocalLLMServer) -> None:
    """Say which engine runs (and why, when it is the fallback), then make the model servable."""
    if server.notice:
        click.echo(f"note: {server.notice}", err=True)
    report = server.prepare()
    if report:
        click.echo(report)


def _serve(settings: Settings, model_id: str, timeout: float) -> str:
    """Serve `model_id` (a folder of LOCAL_DATA_DIR/models): a running server is kept and loads it, else one
    is started with it. Returns what happened (one or two lines)."""
    server = _server(settings, model_id)
    _prepare(server)  # llama.cpp: the twin's GGUF export, which a running server then loads by name
    current = server.status()
    if current.healthy:
        report = server.ensure_model(model_id, timeout_s=timeout)
        return f"local LLM: already up at {server.url} (pid {current.pid}), not restarted\n{report}"
    return server.start(timeout_s=timeout)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Local OpenAI-compatible LLM server on LOCAL_LLM_PORT: llama.cpp, or `transformers serve` with
    LOCAL_LLM_ENGINE=transformers."""
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported


@main.command()
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait for the server to be healthy.")
@click.option(
    "--model",
    "model_spec",
    metavar="SPEC",
    default=None,
    help="Serve and choose a trained model: NAME:vN, NAME:latest, NAME:production (from LOCAL_DATA_DIR/registry) or "
    "base, as `poe serve-model` does; or serve a model folder path (not chosen). Default: the served model "
    "(`poe served-model`), or LLM_MODEL_ID when it is set.",
)
@click.option("--served-name", default=None, help="Model id to serve it as (default NAME-vN, or the folder's name).")
@click.option("--copy", is_flag=True, help="Copy the model into the models folder instead of linking it.")
def up(timeout: float, model_spec: str | None, served_name: str | None, copy: bool) -> None:
    """Start the server as a daemon (safe to run twice) with the served model (a chosen or production twin,
    else the base model: llama.cpp serves its GGUF, the transformers engine converts it once), or with --model
    another one. One server serves every model of LOCAL_DATA_DIR/models; a running one is not restarted."""
    from llm_engineering.bootstrap import uses_local_llm
    from llm_engineering.domain.exceptions import LLMTwinError

    settings = _settings()
    if model_spec is None:
        try:
            chosen = _served_for_up(settings)
            server = _server(settings, chosen)
            _prepare(server)
            click.echo(server.start(timeout_s=timeout))
        except LLMTwinError as error:
            raise click.ClickException(str(error)) from error
        served_id = server.served_model_id
    elif served_name is None and not copy and not _looks_like_path(model_spec):
        served_id = _up_chosen(settings, model_spec, timeout)
    else:
        served_id = _up_registered(settings, model_spec, served_name, copy, timeout)
    if not uses_local_llm(settings):
        click.echo(
            f"note: clients use LLM_PROVIDER={settings.LLM_PROVIDER} LLM_BASE_URL={settings.LLM_BASE_URL}; "
            f"set LLM_PROVIDER=openai LLM_BASE_URL=http://127.0.0.1:{settings.LOCAL_LLM_PORT}/v1 "
            f"LLM_MODEL_ID=auto to use this server (it serves {served_id})."
        )


def _served_for_up(settings: Settings) -> str:
    """The id `up` serves without --model: an explicit LLM_MODEL_ID, else the served model (published again
    when it is a registered version). Prints which and why."""
    from llm_engineering import bootstrap

    chosen = bootstrap.model_to_serve_locally(settings)
    click.echo(f"Served model: {chosen.describe()}")
    return chosen.model_id


def _up_chosen(settings: Settings, spec: str, timeout: float) -> str:
    """`up --model SPEC` for a registry spec or `base`: the same switch as `poe serve-model` (checked,
    published, loaded by a running server, recorded), then a server started when none runs."""
    from llm_engineering import bootstrap
    from llm_engineering.domain.exceptions import LLMTwinError

    try:
        switch = bootstrap.build_model_serving(settings).serve(spec, by="local-llm-up")
        click.echo(switch.summary())
        # A running server loaded it already; else one is started with it.
        click.echo(switch.engine or _serve(settings, switch.model.model_id, timeout))
        click.echo(switch.api_line())
    except LLMTwinError as error:
        raise click.ClickException(str(error)) from error
    return switch.model.model_id


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or spec.startswith(("~", "."))


def _up_registered(settings: Settings, spec: str, served_name: str | None, copy: bool, timeout: float) -> str:
    from llm_engineering import bootstrap
    from llm_engineering.domain.exceptions import LLMTwinError
    from llm_engineering.model.registry import ModelRegistry, RegisteredModel, publish_for_serving

    registry = ModelRegistry(settings.LOCAL_DATA_DIR / "registry")
    models_dir = settings.LOCAL_DATA_DIR / "models"
    try:
        found = registry.lookup(spec)
        served_id = publish_for_serving(found, models_dir, served_name=served_name, copy=copy)
        if isinstance(found, RegisteredModel):
            click.echo(f"Model {found.spec}: {found.merged_dir}")
        else:
            click.echo(f"Model folder: {found}")
        published = models_dir / served_id
        click.echo(f"Published as {published}" + (" (link)" if published.is_symlink() else " (copy)"))
        click.echo(_serve(settings, served_id, timeout))
    except LLMTwinError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Served model id: {served_id}")
    current = bootstrap.served_model(settings)
    if served_id == current.model_id:
        click.echo(f"The API asks {served_id} already: /rag answers with this model.")
    else:
        click.echo(
            f"Served beside the others, not chosen: the API keeps asking {current.describe()}. For /rag to answer "
            f"with it, set LLM_MODEL_ID={served_id} (e.g. in .env, then restart the API); a registered version is "
            "chosen instead with `poetry run poe serve-model --model NAME:vN`."
        )
    return served_id


@main.command()
def down() -> None:
    """Stop the server started by `up` (safe to run twice)."""
    click.echo(_server(_settings()).stop())


@main.command()
def status() -> None:
    """Print whether the server answers."""
    click.echo(_server(_settings()).status().describe())


@main.command()
@click.argument("name", required=False)
def models(name: str | None) -> None:
    """List the registered models (or NAME's versions) with their cards' key metrics."""
    from llm_engineering import bootstrap
    from llm_engineering.model.registry import ModelRegistry

    settings = _settings()
    registry = ModelRegistry(settings.LOCAL_DATA_DIR / "registry")
    models_dir = settings.LOCAL_DATA_DIR / "models"
    answering = bootstrap.served_model(settings).model_id
    names = [name] if name else registry.models()
    if not names or not any(registry.versions(n) for n in names):
        click.echo(f"No registered models{f' named {name!r}' if name else ''} in {registry.root}.")
        return
    click.echo(f"Registry: {registry.root}")
    for model_name in names:
        click.echo(model_name)
        for version in registry.versions(model_name):
            registered = registry.get(model_name, version)
            try:
                card = registered.card()
            except (OSError, ValueError) as error:
                click.echo(f"  v{version}  unreadable card: {error}")
                continue
            served = card.get("serving", {}).get("served_model_id", registered.served_name)
            flags = []
            if (models_dir / served).exists():
                flags.append("published")
            if served == answering:
                flags.append("served")
            click.echo(
                f"  v{version}  {card.get('created_at', '?')}  base {card.get('base_model', '?')}  served as {served}"
                + (f" [{', '.join(flags)}]" if flags else "")
            )
            for stage in card.get("stages", []):
                click.echo(f"      {stage.get('stage', '?')}: {_stage_summary(stage.get('metrics', {}))}")
            if card.get("metrics"):
                click.echo(f"      held-out: {_flat(card['metrics'])}")


def _stage_summary(metrics: dict[str, Any]) -> str:
    parts = []
    first, last = metrics.get("train_loss_first"), metrics.get("train_loss_last")
    if first is not None or last is not None:
        parts.append(f"train loss {_number(first)} -> {_number(last)}")
    for key, label in (("eval_loss", "eval loss"), ("steps", "steps"), ("tokens_per_s", "tokens/s")):
        if metrics.get(key) is not None:
            parts.append(f"{label} {_number(metrics[key])}")
    rewards = {k: v for k, v in metrics.items() if k.startswith("rewards/")}
    parts += [f"{key} {_number(value)}" for key, value in rewards.items()]
    return ", ".join(parts) or "no metrics"


def _flat(values: dict[str, Any], prefix: str = "") -> str:
    parts = []
    for key, value in values.items():
        if isinstance(value, dict):
            parts.append(_flat(value, f"{prefix}{key}."))
        else:
            parts.append(f"{prefix}{key} {_number(value)}")
    return ", ".join(parts)


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "?" if value is None else str(value)


if __name__ == "__main__":
    main()
