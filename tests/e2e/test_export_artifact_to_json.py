"""The `export_artifact_to_json` pipeline end to end: a dataset artifact made by a pipeline run, exported to
JSON beside a name that has no artifact."""

from __future__ import annotations

import json
from typing import Annotated

import pytest
from zenml import pipeline, step

from llm_engineering.domain.datasets import DatasetType, TrainTestSplit
from steps.materializers import TrainTestSplitMaterializer
from tests.integration.test_dataset_materializer import make_split

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


# At module level: ZenML loads a step by its import path, so it cannot be local to the test function.
@step(enable_cache=False, output_materializers={"instruct_datasets": TrainTestSplitMaterializer})
def make_instruct_datasets() -> tuple[
    Annotated[TrainTestSplit, "instruct_datasets"], Annotated[list, "export_test_samples"]
]:
    split = make_split(DatasetType.INSTRUCTION)
    return split, split.samples("test")


@pipeline
def instruct_datasets_fixture() -> None:
    """Stores `make_split(INSTRUCTION)` as `instruct_datasets` (through the materializer) and its test samples
    as a plain list artifact (ZenML's built-in materializer)."""
    make_instruct_datasets()


def _metadata(run, step_name: str, artifact: str) -> dict:
    return dict(run.steps[step_name].outputs[artifact][0].run_metadata)


def test_export_writes_the_dataset_and_reports_the_missing_name(tmp_path):
    from pipelines.export_artifact_to_json import export_artifact_to_json

    produced = instruct_datasets_fixture()
    assert produced.status == "completed"
    stored = produced.steps["make_instruct_datasets"].outputs["instruct_datasets"][0]
    assert stored.materializer.import_path == "steps.materializers.TrainTestSplitMaterializer"
    assert dict(stored.run_metadata)["shared_documents"] == 0
    assert [visualization.type for visualization in stored.visualizations] == ["markdown"]

    names = ["instruct_datasets", "no_such_artifact", "export_test_samples"]
    run = export_artifact_to_json(artifact_names=names, output_dir=str(tmp_path))

    assert run.status == "completed"
    exported = json.loads((tmp_path / "instruct_datasets.json").read_text(encoding="utf-8"))
    assert TrainTestSplit.model_validate(exported) == make_split(DatasetType.INSTRUCTION)
    # A list artifact is wrapped as in the book; its pydantic items are dumped in JSON mode.
    samples = json.loads((tmp_path / "export_test_samples.json").read_text(encoding="utf-8"))
    assert samples == {
        "artifact_data": [sample.model_dump(mode="json") for sample in make_split("instruction").samples("test")]
    }
    assert not (tmp_path / "no_such_artifact.json").exists()
    serialize_meta = _metadata(run, "serialize_artifacts", "serialized_artifacts")
    assert serialize_meta["num_serialized"] == 2 and serialize_meta["missing_artifacts"] == ["no_such_artifact"]
    assert serialize_meta["versions"]["instruct_datasets"]["id"] == str(stored.id)
    export_meta = _metadata(run, "to_json", "exported_files")
    assert export_meta["exported"] == 2 and export_meta["missing_artifacts"] == ["no_such_artifact"]
    assert export_meta["files"] == {
        name: str(tmp_path / f"{name}.json") for name in names if name != "no_such_artifact"
    }
    assert export_meta["bytes"]["instruct_datasets"] == (tmp_path / "instruct_datasets.json").stat().st_size
    assert run.steps["to_json"].outputs["exported_files"][0].load() == export_meta["files"]
