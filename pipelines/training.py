"""The training pipeline: instruct and preference datasets -> SFT -> DPO -> held-out evaluation -> registry."""

from __future__ import annotations

from typing import Any

from zenml import pipeline

from llm_engineering.application.datasets.raft import RaftSettings
from llm_engineering.model.serving_profile import trained_context_chars
from pipelines.docker import PIPELINE_SETTINGS
from steps import training as training_steps
from steps.alerts import notify_on_failure, notify_on_success

LATEST = "latest"
ZENML_PREFIX = "zenml:"


@pipeline(on_failure=notify_on_failure, settings=PIPELINE_SETTINGS)
def training(
    profile: str = "cpu",
    profiles: dict[str, Any] | None = None,
    instruct_dataset: str = LATEST,
    preference_dataset: str = LATEST,
    extra_instruct_dataset: str | None = None,
    extra_instruct_samples: int = 10000,
    run_dpo: bool = True,
    eval_max_samples: int = 50,
    eval_max_length: int = 256,
    model_name: str = "llm_twin",
    serve: bool = True,
    track_experiments: bool = True,
    push_to_huggingface: bool = False,
    hub_model_id: str | None = None,
    retrieval_aware: dict[str, Any] | None = None,
    export_gguf: list[str] | None = None,
) -> None:
    """Fine-tune the twin with the `profile` of `profiles` (configs/training.yaml).

    - `instruct_dataset` / `preference_dataset`: `latest` (the newest `instruct_datasets` /
      `preference_datasets` artifact), `zenml:<version>`, a file or folder path, or `hf:<user/name>`.
    - `extra_instruct_dataset`: a public instruct dataset (same forms) mixed into the SFT train split.
    - `run_dpo`: false registers the SFT model alone.
    - `serve`: link the model into the local server's models folder (`poe local-llm-up --model ...`).
    - `export_gguf`: GGUF quantizations written into the registered version (None: Q8_0 and Q4_K_M; [] off).
    - `retrieval_aware`: train on `/rag`'s prompt layout, passages from the feature store
      (`RaftSettings` keys, plus `enabled`); None or `enabled: false` trains on plain instructions.
    """
    if not profiles:
        raise ValueError("The training pipeline needs `profiles` (see configs/training.yaml).")
    if push_to_huggingface and not hub_model_id:
        raise ValueError("push_to_huggingface needs a hub_model_id (e.g. `your-user/TwinGemma-3-270M`).")
    instruct = dataset_input(instruct_dataset, "instruct_datasets", "instruction", "load_instruct_dataset")
    if extra_instruct_dataset:
        extra = dataset_input(extra_instruct_dataset, "instruct_datasets", "instruction", "load_extra_instruct_dataset")
        instruct = training_steps.mix_instruct_datasets(instruct, extra, max_samples=extra_instruct_samples)
    preference = dataset_input(preference_dataset, "preference_datasets", "preference", "load_preference_dataset")
    raft = dict(retrieval_aware or {})
    serving: dict[str, Any] = {}
    if raft.pop("enabled", False):
        instruct, preference = training_steps.retrieval_aware_datasets(instruct, preference, settings=raft)
        # Served with the /rag context it trained on (model/serving_profile.py).
        shape = RaftSettings(**raft)
        serving["max_context_chars"] = trained_context_chars(shape.passages, shape.max_passage_chars)
        # It trained on answers of at least min_answer_words words: no reply ends before as many tokens.
        serving["min_new_tokens"] = shape.min_answer_words
    sft = training_steps.train_sft(instruct, profile=profile, profiles=profiles, track_experiments=track_experiments)
    dpo = None
    if run_dpo:
        dpo = training_steps.train_dpo(
            preference, sft, profile=profile, profiles=profiles, track_experiments=track_experiments
        )
    evaluation = training_steps.evaluate_heldout(
        instruct, preference, sft, dpo, max_samples=eval_max_samples, max_length=eval_max_length
    )
    card = training_steps.register_model(
        sft,
        evaluation,
        dpo,
        model_name=model_name,
        serve=serve,
        push_to_huggingface=push_to_huggingface,
        hub_model_id=hub_model_id,
        export_gguf=export_gguf,
        serving=serving or None,
    )
    notify_on_success(card)


def dataset_input(source: str, artifact_name: str, dataset_type: str, step_id: str) -> Any:
    """A ZenML artifact version (`latest` or `zenml:<version>`: lineage to the dataset run) or the output of
    a step loading `source` from disk or the Hub."""
    if source == LATEST or source.startswith(ZENML_PREFIX):
        from zenml.client import Client

        version = None if source == LATEST else source.removeprefix(ZENML_PREFIX)
        # Checked now: inside a pipeline the client lookup is lazy and would fail only when the step starts.
        filters = {"name": artifact_name} | ({"version": version} if version else {})
        if not Client().list_artifact_versions(size=1, **filters).items:
            wanted = "any version" if version is None else f"version {version!r}"
            raise ValueError(
                f"No `{artifact_name}` artifact ({wanted}) in ZenML: generate it first (poetry run poe "
                f"run-generate-{'instruct' if dataset_type == 'instruction' else 'preference'}-datasets-pipeline) "
                "or point the pipeline at a file or folder, e.g. "
                f"../shared/data/handbook/artifacts/{artifact_name}.json."
            )
        return Client().get_artifact_version(artifact_name, version)
    return training_steps.load_dataset_file(source, dataset_type, id=step_id)
