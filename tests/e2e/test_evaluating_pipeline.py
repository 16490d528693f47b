"""`evaluating` end to end in a temporary ZenML store: a tiny model folder and the same tiny model behind a
real OpenAI-compatible server answer the held-out instructions; offline metrics, held-out loss and the judge
(the tiny server, whose replies are never valid verdicts) score them; the report is an artifact with
visualisations and files on disk; the evaluation gate passes or stops the run with its numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_finetuning import instruct_split
from tests.llm_fixtures import build_tiny_model

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SAMPLING = {"temperature": 0.8, "top_p": 0.95, "min_p": 0.05, "max_new_tokens": 12, "seed": 0, "batch_size": 4}


@pytest.fixture
def evaluation_setup(tmp_path, monkeypatch, llm_server):
    from zenml import save_artifact

    from llm_engineering import bootstrap
    from llm_engineering.settings import load_settings
    from steps.materializers import TrainTestSplitMaterializer

    monkeypatch.setenv("LOCAL_DATA_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("LLM_BASE_URL", llm_server["base_url"])
    monkeypatch.setenv("LLM_MODEL_ID", llm_server["model_id"])
    monkeypatch.setenv("EVALUATION_JUDGE_BASE_URL", llm_server["base_url"])
    monkeypatch.setenv("EVALUATION_JUDGE_MODEL_ID", llm_server["model_id"])
    monkeypatch.chdir(tmp_path)  # the report goes to ./output/evaluation/<run>
    bootstrap.configure(load_settings())
    save_artifact(instruct_split(), name="instruct_datasets", materializer=TrainTestSplitMaterializer)
    yield build_tiny_model(tmp_path / "models" / "tiny-twin")
    bootstrap.reset()


def test_models_are_compared_offline_and_by_the_judge_without_invented_scores(evaluation_setup: Path, tmp_path):
    from pipelines.evaluating import evaluating

    models = [{"name": "tiny", "source": str(evaluation_setup)}, {"name": "served", "source": "endpoint"}]
    run = evaluating.with_options(enable_cache=False)(
        models=models, dataset="latest", max_samples=2, sampling=SAMPLING, judge="required"
    )
    assert run.status == "completed"
    report = run.steps["build_evaluation_report"].outputs["evaluation_report"][0].load()
    assert report.models == ["tiny", "served"] and report.num_samples == 2
    offline = {info.metric for info in report.metrics_from("offline")}
    assert {"rouge_l", "reference_similarity", "style_margin", "stylometric_distance", "heldout_loss"} <= offline
    assert report.row("served", "heldout_loss") is None  # no weights behind an endpoint: not scored, not faked
    assert report.row("tiny", "heldout_loss").count == 2
    # The tiny judge never returns a usable verdict: every judge score is a counted failure, none a default.
    for model in ("tiny", "served"):
        accuracy = report.row(model, "judge_accuracy")
        assert accuracy.count == 0 and accuracy.failures == 2 and accuracy.mean is None
    answers = run.steps["generate_tiny"].outputs["model_answers"][0].load()
    assert len(answers.answers) == 2 and answers.backend == "transformers"
    assert run.steps["generate_served"].outputs["model_answers"][0].load().backend == "openai"

    visualizations = run.steps["build_evaluation_report"].outputs["evaluation_report"][0].visualizations
    assert {v.type for v in visualizations} >= {"html", "markdown"}
    folder = tmp_path / "output" / "evaluation" / run.name
    assert (folder / "report.md").read_text().count("tiny") >= 1 and (folder / "report.html").is_file()
    assert run.steps["log_evaluation_to_opik"].outputs["opik_experiments"][0].load() == {}  # Opik not configured


def test_the_gate_stops_a_worse_candidate_with_its_numbers(evaluation_setup: Path):
    from zenml.client import Client

    from pipelines.evaluating import evaluating

    models = [{"name": "current", "source": str(evaluation_setup)}, {"name": "candidate", "source": "endpoint"}]
    gate = {"candidate": "candidate", "current": "current", "rules": [{"metric": "heldout_loss", "tolerance": 0.1}]}
    # The endpoint model has no held-out loss: the candidate lacks a gated metric, so the gate must fail.
    with pytest.raises(RuntimeError, match="evaluation_gate"):
        evaluating.with_options(enable_cache=False)(
            models=models, dataset="latest", max_samples=2, sampling=SAMPLING, judge="off", gate=gate
        )
    failed = Client().get_pipeline("evaluating").last_run
    step_run = failed.steps["evaluation_gate"]
    assert failed.status == "failed" and step_run.status == "failed"
    assert "heldout_loss: missing from the candidate's metrics" in step_run.run_metadata["message"]
    passing = {"candidate": "current", "current": "current", "rules": [{"metric": "rouge_l", "tolerance": 0.0}]}
    run = evaluating.with_options(enable_cache=False)(
        models=models, dataset="latest", max_samples=2, sampling=SAMPLING, judge="off", gate=passing
    )
    verdict = run.steps["evaluation_gate"].outputs["evaluation_gate"][0].load()
    assert verdict["passed"] and "gate passed" in verdict["message"]
