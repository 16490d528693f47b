"""`generate_datasets` end to end: cleaned documents in Qdrant local mode -> ZenML artifacts (temporary
store) -> read back; offline mode with the tiny model on a real OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llm_engineering.domain.datasets import DatasetType, TrainTestSplit
from tests.datasets_fixtures import demo_cleaned_articles

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def feature_store(vector_index, llm_server, monkeypatch):
    """The demo articles in `cleaned_articles`, and the tiny model as the LLM (not on LOCAL_LLM_PORT, so the
    CLI does not try to start the packaged model)."""
    from llm_engineering import bootstrap
    from llm_engineering.domain.cleaned_documents import CleanedArticleDocument
    from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient

    monkeypatch.setenv("LLM_BASE_URL", llm_server["base_url"])
    monkeypatch.setenv("LLM_MODEL_ID", llm_server["model_id"])
    client = OpenAICompatibleClient(base_url=llm_server["base_url"], model_id=llm_server["model_id"], timeout_s=60)
    bootstrap.override(llm=client)
    documents = demo_cleaned_articles()
    vector_index.bulk_insert(CleanedArticleDocument, documents)
    yield {str(document.id): document for document in documents}
    client.close()


def _outputs(run, step_name: str, artifact: str):
    output = run.steps[step_name].outputs[artifact][0]
    return output.load(), dict(output.run_metadata)


def test_offline_instruct_dataset_artifact_holds_a_split_by_document(feature_store, tmp_path):
    from pipelines.generate_datasets import generate_datasets

    run = generate_datasets.with_options(enable_cache=False)(
        dataset_type="instruction",
        generation_mode="offline",
        test_split_size=0.25,
        max_llm_calls=2,
        export_dir=str(tmp_path / "datasets"),
    )

    assert run.status == "completed"
    prompts, prompts_meta = _outputs(run, "create_prompts", "prompts")
    assert prompts_meta["mode"] == "offline" and prompts_meta["num_extracts"] == len(prompts.spans) >= 4
    generated, generated_meta = _outputs(run, "generate_instruction_dataset", "generated_samples")
    assert generated_meta["num_samples"] == generated.num_samples == len(prompts.spans)
    assert generated_meta["num_requests"] == 2
    assert sum(generated_meta["instruction_sources"].values()) == generated.num_samples
    _, curated_meta = _outputs(run, "curate_dataset", "curated_samples")
    assert set(curated_meta["steps"]) == {"rule_filters", "exact_dedup", "near_dedup"}

    dataset, split_meta = _outputs(run, "split_instruction_dataset", "instruct_datasets")
    assert isinstance(dataset, TrainTestSplit) and dataset.dataset_type == DatasetType.INSTRUCTION
    assert dataset.shared_documents() == set() and split_meta["shared_documents"] == 0
    assert split_meta["num_train"] == dataset.num_samples("train") >= 1
    assert split_meta["num_test"] == dataset.num_samples("test") >= 1
    for sample in dataset.samples("train") + dataset.samples("test"):
        assert sample.document_id in feature_store
    # The materializer's dashboard metadata and the export on disk agree with the artifact.
    from llm_engineering.model.dataset_files import load_split_folder

    assert load_split_folder(tmp_path / "datasets" / "instruct_datasets") == dataset


def test_offline_preference_dataset_pairs_the_author_with_the_local_model(feature_store):
    from pipelines.generate_datasets import generate_datasets

    run = generate_datasets.with_options(enable_cache=False)(
        dataset_type="preference",
        generation_mode="offline",
        test_split_size=0.25,
        max_extracts=5,
        # The tiny model's random text cannot pass the book's format rule on `chosen` sometimes; keep this
        # test about the pipeline, not about the filter (unit-tested).
        filters={"min_answer_chars": 50},
    )

    assert run.status == "completed"
    generated, meta = _outputs(run, "generate_preference_dataset", "generated_samples")
    rejected_failures = sum(count for key, count in meta["failures"].items() if key.startswith("rejected_"))
    assert generated.num_samples + rejected_failures == 5
    dataset, _ = _outputs(run, "split_preference_dataset", "preference_datasets")
    assert dataset.dataset_type == DatasetType.PREFERENCE and dataset.shared_documents() == set()
    for sample in dataset.samples("train"):
        document = feature_store[sample.document_id]
        start, end = sample.provenance.extract_start, sample.provenance.extract_end
        assert sample.chosen.split()[:5] == document.content[start:end].split()[:5]
        assert sample.rejected != sample.chosen
    from llm_engineering.model.hf_datasets import split_tables

    assert split_tables(dataset)["train"].column_names == ["prompt", "chosen", "rejected"]


def test_the_poe_task_runs_the_shipped_config(feature_store, tmp_path):
    """What `poetry run poe run-generate-instruct-datasets-pipeline` runs, with the shipped config (its
    export folder moved to a temporary one)."""
    from click.testing import CliRunner
    from zenml.client import Client

    from tools import run

    config = yaml.safe_load((PROJECT_ROOT / "configs" / "generate_instruct_datasets.yaml").read_text())
    config["parameters"].update(export_dir=str(tmp_path / "out"), max_llm_calls=1, test_split_size=0.25)
    config_dir = tmp_path / "configs"
    config_dir.mkdir()
    (config_dir / "generate_instruct_datasets.yaml").write_text(yaml.safe_dump(config))

    result = CliRunner().invoke(
        run.main, ["--no-cache", "--run-generate-instruct-datasets", "--config-dir", str(config_dir)]
    )

    assert result.exit_code == 0, result.output + repr(result.exception)
    artifact = Client().get_artifact_version("instruct_datasets")
    dataset = artifact.load()
    assert dataset.num_samples("train") >= 1 and dataset.shared_documents() == set()
    assert (tmp_path / "out" / "instruct_datasets" / "train.jsonl").is_file()
    assert artifact.run_metadata["num_train"] == dataset.num_samples("train")
