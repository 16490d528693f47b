"""Step: the trained stages as the next version of a model in the local registry (merged models, adapters,
model card), published for the local server, exported as GGUF files with an Ollama Modelfile, tagged onto the
run's ZenML Model version, and optionally pushed to the Hugging Face Hub."""

from __future__ import annotations

from typing import Annotated, Any

from loguru import logger
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
    from llm_engineering.model.finetuning.runs import hardware, stage_result_from_dict
    from llm_engineering.model.registry import publish_for_serving

    settings = bootstrap.container().settings
    results = [sft_result] + ([dpo_result] if dpo_result is not None else [])
    stages = [stage_result_from_dict(result) for result in results]
    datasets = _datasets(results)
    context = get_step_context()
    zenml_version = context.pipeline_run.model_version
    run_info: dict[str, Any] = {"zenml_run": context.pipeline_run.name, "profile": sft_result.get("profile")}
    if zenml_version is not None:
        run_info["zenml_model"] = f"{zenml_version.model.name}:{zenml_version.name}"
    registered = bootstrap.build_model_registry(settings).register(
        model_name,
        stages,
        datasets=datasets,
        config=stages[-1].config | run_info,
        metrics=_heldout_metrics(evaluation),
        hardware=hardware(),
        move=True,  # the run folder's copies are not needed once registered: no second gigabyte on disk
        serving=serving,
    )
    gguf = bootstrap.build_gguf_exporter(settings).export_or_report(registered, export_gguf)
    card = registered.card()
    served = publish_for_serving(registered, settings.LOCAL_DATA_DIR / "models") if serve else None
    hub_url = None
    if push_to_huggingface:
        hub_url = bootstrap.build_model_publisher(settings).push(registered.path, hub_model_id or "")
    summary = {
        "spec": registered.spec,
        "path": str(registered.path),
        "served_model_id": served,
        "serve_command": f"poetry run poe local-llm-up --model {registered.spec}",
        "hub_url": hub_url,
        "gguf": gguf or None,
        "heldout_improved": evaluation.get("improved"),
        **evaluation.get("summary", {}),
    }
    logger.info("Registered {} ({}); serve it with: {}", registered.spec, registered.path, summary["serve_command"])
    log_metadata(metadata=_without_none(summary), infer_artifact=True)
    if gguf:
        log_metadata(metadata={"gguf": gguf})  # the step run's own metadata
    if zenml_version is not None:
        stage_metrics = {stage.stage: stage.metrics for stage in stages}
        model_metadata = {"registry": summary, "stages": stage_metrics, "gguf": gguf or None}
        log_metadata(metadata=_without_none(model_metadata), infer_model=True)
    return card | {"registered": summary}


def _datasets(results: list[dict]) -> dict[str, dict[str, Any]]:
    """{stage: {artifact, version, id}} of the dataset artifact each stage trained on."""
    found: dict[str, dict[str, Any]] = {}
    for result in results:
        for reference in (result.get("datasets") or {}).values():
            found[result["stage"]] = dict(reference)
    return found


def _without_none(value: Any) -> Any:
    """ZenML metadata refuses None: drop such entries, nested ones included."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    return value


def _heldout_metrics(evaluation: dict) -> dict[str, Any]:
    """Flat figures for the model card: `heldout_<dataset>_<model>_loss`, samples per dataset, improved."""
    metrics: dict[str, Any] = {f"heldout_{key}": value for key, value in evaluation.get("summary", {}).items()}
    for dataset, by_model in evaluation.get("results", {}).items():
        first = next(iter(by_model.values()), {})
        metrics[f"heldout_{dataset}_samples"] = first.get("samples")
    metrics["heldout_improved"] = evaluation.get("improved")
    return metrics
