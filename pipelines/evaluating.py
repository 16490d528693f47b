"""The evaluating pipeline: held-out instructions -> each model's answers -> offline metrics, held-out loss
and (when configured) the LLM judge -> one comparison report -> optionally the evaluation gate."""

from __future__ import annotations

from typing import Any

from zenml import pipeline

from pipelines.docker import PIPELINE_SETTINGS
from pipelines.training import LATEST, dataset_input
from steps import evaluating as evaluating_steps
from steps.alerts import notify_on_failure, notify_on_success


@pipeline(on_failure=notify_on_failure, settings=PIPELINE_SETTINGS)
def evaluating(
    models: list[dict[str, Any]] | None = None,
    dataset: str = LATEST,
    max_samples: int | None = 16,
    seed: int = 0,
    sampling: dict[str, Any] | None = None,
    backend: str = "auto",
    judge: str = "auto",
    heldout: bool = True,
    torch_threads: int | None = None,
    gate: dict[str, Any] | None = None,
) -> None:
    """Compare `models` ([{name, source}], see configs/evaluating.yaml) on the instruct test split of
    `dataset` (`latest`, `zenml:<version>`, a file or folder). `gate`: {candidate, current, rules} fails the
    run when the candidate is worse than the current model beyond a rule's tolerance."""
    if not models:
        raise ValueError("The evaluating pipeline needs `models`: a list of {name, source} (configs/evaluating.yaml).")
    names = [model.get("name") for model in models]
    if len(set(names)) != len(names):
        raise ValueError(f"Model names must be unique, got {names}.")
    instruct = dataset_input(dataset, "instruct_datasets", "instruction", "load_evaluation_dataset")
    samples = evaluating_steps.select_evaluation_samples(instruct, max_samples=max_samples, seed=seed)
    scores, runs = [], []
    for model in models:
        answers = evaluating_steps.generate_model_answers(
            samples,
            model=model,
            sampling=sampling or {},
            backend=backend,
            torch_threads=torch_threads,
            id=f"generate_{model['name']}",
        )
        runs.append(answers)
        scores.append(
            evaluating_steps.score_model_answers(
                samples,
                answers,
                model=model,
                judge=judge,
                heldout=heldout,
                torch_threads=torch_threads,
                id=f"score_{model['name']}",
            )
        )
    report = evaluating_steps.build_evaluation_report(samples, scores)
    evaluating_steps.log_evaluation_to_opik(samples, runs, scores)
    if gate:
        verdict = evaluating_steps.evaluation_gate(report, **gate)
        notify_on_success(verdict)
    else:
        notify_on_success(after="build_evaluation_report")
