"""The Opik logging of an evaluation: off without configuration; with it, the dataset and one experiment per
model carry the pipeline's own scores (a fake Opik client and `evaluate` stand in for the server)."""

import opik
import opik.evaluation
import pytest

from llm_engineering.infrastructure import opik_evaluation

SAMPLES = [
    {"instruction": "q1", "reference": "a1", "category": "articles"},
    {"instruction": "q2", "reference": "a2", "category": "posts"},
]


class FakeDataset:
    def __init__(self, name):
        self.name, self.items = name, []

    def insert(self, items):
        self.items.extend(items)


class FakeClient:
    datasets: dict = {}

    def get_or_create_dataset(self, name, description=None):
        return self.datasets.setdefault(name, FakeDataset(name))


def test_off_without_configuration(monkeypatch):
    monkeypatch.setattr(opik_evaluation, "opik_enabled", lambda: False)
    assert opik_evaluation.log_model_evaluation("run", SAMPLES, {"sft": ["x", None]}, {}) == {}


def test_logs_a_dataset_and_an_experiment_per_model_with_failed_scores_marked(monkeypatch):
    recorded = []

    def fake_evaluate(dataset, task, scoring_metrics, experiment_name, **kwargs):
        for item in dataset.items:
            output = task(item)
            results = [metric.score(**item, **output) for metric in scoring_metrics]
            recorded.append(
                (experiment_name, item["sample_index"], output, [(r.name, r.value, r.scoring_failed) for r in results])
            )

    monkeypatch.setattr(opik_evaluation, "opik_enabled", lambda: True)
    monkeypatch.setattr(opik, "Opik", FakeClient)
    monkeypatch.setattr(opik.evaluation, "evaluate", fake_evaluate)
    experiments = opik_evaluation.log_model_evaluation(
        "run-1", SAMPLES, {"base": ["b1", "b2"], "sft": ["s1", None]}, {"sft": {"rouge_l": [0.5, None]}}
    )
    assert experiments == {"base": "run-1-base", "sft": "run-1-sft"}
    assert [item["instruction"] for item in FakeClient.datasets["llm-twin-evaluation-run-1"].items] == ["q1", "q2"]
    sft = [entry for entry in recorded if entry[0] == "run-1-sft"]
    assert sft[0][2] == {"output": "s1", "answered": True} and sft[0][3] == [("rouge_l", 0.5, False)]
    assert sft[1][2]["answered"] is False and sft[1][3] == [("rouge_l", 0.0, True)]  # failed, not a made-up 0


def test_an_unreachable_opik_never_fails_the_evaluation(monkeypatch):
    class Broken:
        def get_or_create_dataset(self, **kwargs):
            raise ConnectionError("no server")

    monkeypatch.setattr(opik_evaluation, "opik_enabled", lambda: True)
    monkeypatch.setattr(opik, "Opik", Broken)
    assert opik_evaluation.log_model_evaluation("run", SAMPLES, {"sft": ["x", "y"]}, {}) == {}


@pytest.fixture(autouse=True)
def _clean():
    FakeClient.datasets = {}
