"""Step: the trained stages as the next version of a model in the local registry (merged models, adapters,
model card), published for the local server, exported as GGUF files with an Ollama Modelfile, tagged onto the
run's ZenML Model version, and optionally pushed to the Hugging Face Hub."""

from __future__ import annotations

from typing import Annotated

from zenml import get_step_context, log_metadata, step


@step
def register_model(
    sft_result: dict,
    evaluation: dict,
    dpo_result: dict | None = None,
    model_name: str = "llm_twin",
    serve: bool = True,
    push_to_huggingface: bool = False,
    hub_model_id: str | None = None,
    export_gguf: list[str] | None = None,
    serving: dict | None = None,
) -> Annotated[dict, "model_card"]:
    """Register SFT (and DPO) as `<model_name>:v<N>`; the last stage is the served model. Then export it as
    the GGUF quantizations `export_gguf` (None: Q8_0 and Q4_K_M; empty: none): a failed export is a warning
    in the metadata, not a failed step. `serving` goes into the card (how to serve it: `max_context_chars`).
    Returns the card."""
    from llm_engineering import bootstrap
    from llm_engineering.model.registration import ReleaseOptions, RunInfo, register_trained_model
    from llm_engineering.model.registry import publish_for_serving

    container = bootstrap.container()
    settings = container.settings
    context = get_step_context()
    zenml_version = context.pipeline_run.model_version
    run = RunInfo(
        zenml_run=context.pipeline_run.name,
        zenml_model=f"{zenml_version.model.name}:{zenml_version.name}" if zenml_version is not None else None,
    )
    options = ReleaseOptions(
        serve=serve,
        push_to_huggingface=push_to_huggingface,
        hub_model_id=hub_model_id,
        export_gguf=export_gguf,
        serving=serving,
    )
    registration = register_trained_model(
        model_name,
        sft_result,
        evaluation,
        dpo_result,
        options,
        run,
        registry=container.model_registry(),
        exporter=container.gguf_exporter(),
        publish_for_serving=lambda registered: publish_for_serving(registered, settings.LOCAL_DATA_DIR / "models"),
        publisher=container.model_publisher,
    )
    log_metadata(metadata=registration.artifact_metadata(), infer_artifact=True)
    if registration.gguf:
        log_metadata(metadata={"gguf": registration.gguf})  # the step run's own metadata
    if zenml_version is not None:
        log_metadata(metadata=registration.model_version_metadata(), infer_model=True)
    return registration.model_card()
