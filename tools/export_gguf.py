"""Export a registered twin as GGUF files plus an Ollama Modelfile, into its version folder, recorded in its card.

    poetry run poe export-gguf                                      # llm_twin:latest, Q8_0 and Q4_K_M
    poetry run python -m tools.export_gguf --model llm_twin:v2 --quantizations Q8_0

Idempotent: files made from the version's current weights are kept (`--force` redoes them). Q4_K_M needs
llama-cpp-python (the optional `llamacpp` group); Q8_0 does not. When the version came from a training run,
the files are also logged on that run's ZenML Model version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from llm_engineering.model.registry import RegisteredModel


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--model",
    "model_spec",
    metavar="SPEC",
    default="llm_twin:latest",
    show_default=True,
    help="A registered version: NAME, NAME:latest, NAME:production, NAME:vN, or its folder.",
)
@click.option(
    "--quantizations",
    default="Q8_0,Q4_K_M",
    show_default=True,
    help="Comma-separated: Q8_0 and F16 (gguf-py), Q4_K_M, Q4_K_S, Q5_K_M, Q6_K (llama.cpp's quantizer).",
)
@click.option("--force", is_flag=True, help="Export again even when the files are fresh.")
@click.option("--zenml/--no-zenml", default=True, show_default=True, help="Log the files on the ZenML Model version.")
def main(model_spec: str, quantizations: str, force: bool, zenml: bool) -> None:
    """Write <version>/gguf/<name>-v<N>.<quantization>.gguf and <version>/gguf/Modelfile, and list them in the
    version's model card."""
    from llm_engineering.bootstrap import use_project_zenml_store
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported
    use_project_zenml_store()  # before ZenML reads its config: this checkout's store (LOCAL_DATA_DIR/zenml)

    from llm_engineering import bootstrap
    from llm_engineering.domain.exceptions import LLMTwinError
    from llm_engineering.model.gguf_bundle import parse_quantizations
    from llm_engineering.model.registry import RegisteredModel
    from llm_engineering.settings import get_settings

    exporter = bootstrap.build_gguf_exporter(get_settings())
    try:
        wanted = parse_quantizations(quantizations)  # a typo fails before anything is looked up
        found = exporter.registry.lookup(model_spec)
        if not isinstance(found, RegisteredModel):
            raise click.ClickException(
                f"{found} is a model folder, not a registered version: register it first (the training pipeline "
                f"does), then export NAME:vN. Registered: {', '.join(exporter.registry.models()) or 'none'}."
            )
        bundle = exporter.export(found, wanted, force=force)
    except LLMTwinError as error:
        raise click.ClickException(str(error)) from error
    for file in bundle.files:
        state = f"written in {file.seconds:.0f}s" if file.written else "fresh, kept"
        click.echo(f"{file.path}  {file.quantization}  {file.bytes / 1e6:,.1f} MB  sha256 {file.sha256[:16]}  {state}")
    click.echo(f"Modelfile: {bundle.modelfile}")
    click.echo(f"Card: {found.path / 'model_card.md'}")
    click.echo(f"Ollama:  ollama create {_ollama_name(found)} -f {bundle.modelfile}")
    if zenml:
        click.echo(_log_on_zenml_model(found, bundle.summary()))


def _ollama_name(registered: RegisteredModel) -> str:
    return registered.served_name.lower().replace("_", "-")


def _log_on_zenml_model(registered: RegisteredModel, summary: dict[str, Any]) -> str:
    """Log `summary` on the ZenML Model version the card names (`config.zenml_model`, set by the training
    pipeline); returns a line saying what happened. A version registered outside ZenML has none."""
    reference = registered.card().get("config", {}).get("zenml_model")
    if not reference:
        return "ZenML: this version was not registered by a pipeline run; nothing logged."
    model_name, _, version = str(reference).partition(":")
    try:
        from zenml import log_metadata

        log_metadata(metadata={"gguf": summary}, model_name=model_name, model_version=version)
    except Exception as error:  # noqa: BLE001 - any store or lookup failure: the export itself stands
        return f"ZenML: could not log on model {reference} ({type(error).__name__}: {error})."
    return f"ZenML: logged on model {reference}."


if __name__ == "__main__":
    main()
