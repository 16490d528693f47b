"""`training` end to end with a tiny model built on the spot: the instruct dataset as the latest ZenML
artifact, the preference dataset from an exported folder -> SFT -> DPO -> held-out losses -> registry
version with a model card, published for serving, a ZenML Model version with the datasets linked, and
one offline Comet archive per stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_finetuning import instruct_split, preference_split, tiny_config
from tests.llm_fixtures import build_tiny_model

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def tiny_profiles(base_model: Path) -> dict:
    """The integration test's tiny recipe as a `profiles` parameter, with fewer steps."""
    profile = tiny_config().model_dump(mode="json") | {"base_model": str(base_model)}
    profile["sft"]["max_steps"], profile["dpo"]["max_steps"] = 8, 6
    return {"tiny": profile}


@pytest.fixture
def local_data_dir(tmp_path, monkeypatch):
    from llm_engineering import bootstrap
    from llm_engineering.settings import load_settings

    monkeypatch.setenv("LOCAL_DATA_DIR", str(tmp_path / "local"))
    bootstrap.configure(load_settings())
    yield tmp_path / "local"
    bootstrap.reset()


def test_training_pipeline_registers_a_servable_twin(local_data_dir: Path, tmp_path: Path):
    from zenml import save_artifact
    from zenml.client import Client

    from llm_engineering.model.dataset_files import export_split
    from llm_engineering.model.registry import ModelRegistry
    from pipelines.training import training
    from steps.materializers import TrainTestSplitMaterializer

    save_artifact(instruct_split(), name="instruct_datasets", materializer=TrainTestSplitMaterializer)
    export_split(preference_split(), tmp_path / "exports")
    tiny = build_tiny_model(tmp_path / "tiny-base" / "tiny-twin")

    run = training.with_options(enable_cache=False, model={"name": "llm_twin_test"})(
        profile="tiny",
        profiles=tiny_profiles(tiny),
        instruct_dataset="latest",
        preference_dataset=str(tmp_path / "exports" / "preference_datasets"),
        eval_max_samples=2,
        eval_max_length=128,
        model_name="tiny_twin",
    )

    assert run.status == "completed"
    sft = run.steps["train_sft"].outputs["sft_result"][0].load()
    dpo = run.steps["train_dpo"].outputs["dpo_result"][0].load()
    assert sft["metrics"]["steps"] == 8 and dpo["metrics"]["steps"] == 6
    assert sft["datasets"]["dataset"]["artifact"] == "instruct_datasets"
    assert dpo["metrics"]["rewards/margins"] > 0
    # One offline Comet archive per stage: no key, no network.
    for result in (sft, dpo):
        assert Path(result["metrics"]["experiment"]).is_file()

    evaluation = run.steps["evaluate_heldout"].outputs["heldout_evaluation"][0].load()
    assert set(evaluation["results"]) == {"instruct", "preference_chosen"}
    assert set(evaluation["results"]["instruct"]) == {"base", "sft", "dpo"}
    assert evaluation["results"]["instruct"]["sft"]["loss"] < evaluation["results"]["instruct"]["base"]["loss"]

    card = run.steps["register_model"].outputs["model_card"][0].load()
    assert card["spec"] == "tiny_twin:v1" and [stage["stage"] for stage in card["stages"]] == ["sft", "dpo"]
    assert card["datasets"]["sft"]["artifact"] == "instruct_datasets"
    assert card["hardware"]["cpu_cores"] >= 1 and card["metrics"]["heldout_instruct_sft_loss"] > 0
    # The tiny Llama is no Gemma 3 twin: its GGUF export fails, as a warning in the metadata, not the run.
    assert "not a fine-tune of the packaged Gemma 3" in card["registered"]["gguf"]["error"]
    registered = ModelRegistry(local_data_dir / "registry").latest("tiny_twin")
    assert registered.merged_dir.joinpath("config.json").is_file()
    assert json.loads((registered.path / "model_card.json").read_text())["version"] == 1
    served = local_data_dir / "models" / card["registered"]["served_model_id"]
    assert served.resolve() == registered.merged_dir.resolve()
    # The run folder's copies were moved into the registry, not duplicated.
    assert not Path(sft["merged_dir"]).exists()

    # The run is a version of the ZenML Model, with the datasets it trained on linked and the registry entry.
    model_version = Client().get_model_version("llm_twin_test", "latest")
    linked = model_version.to_model_class()
    assert linked.get_artifact("instruct_datasets") is not None
    assert linked.get_artifact("loaded_dataset") is not None  # the preference folder, loaded in this run
    assert model_version.run_metadata["registry"]["spec"] == "tiny_twin:v1"
    assert "error" in model_version.run_metadata["gguf"]


def test_training_pipeline_names_the_missing_dataset_artifact(local_data_dir: Path):
    from pipelines.training import training

    with pytest.raises(ValueError, match=r"No `instruct_datasets` artifact \(version .does-not-exist.\)"):
        training.with_options(enable_cache=False)(
            profile="tiny",
            profiles=tiny_profiles(Path("unused")),
            instruct_dataset="zenml:does-not-exist",
            preference_dataset="latest",
        )
