"""The export pipeline: the latest version of named ZenML artifacts -> `<output_dir>/<name>.json`."""

from __future__ import annotations

from zenml import pipeline

from pipelines.docker import PIPELINE_SETTINGS
from steps import export as export_steps
from steps.alerts import notify_on_failure


@pipeline(on_failure=notify_on_failure, settings=PIPELINE_SETTINGS)
def export_artifact_to_json(artifact_names: list[str], output_dir: str = "output") -> None:
    """Export each named artifact (its latest version) to `<output_dir>/<name>.json`.

    Names with no artifact are skipped and listed as `missing_artifacts` in the metadata of both steps'
    outputs; the others still export. The files written and their sizes are in the `exported_files` metadata.
    """
    serialized_artifacts, missing_artifacts = export_steps.serialize_artifacts(artifact_names)
    export_steps.to_json(serialized_artifacts, output_dir=output_dir, missing_artifacts=missing_artifacts)
