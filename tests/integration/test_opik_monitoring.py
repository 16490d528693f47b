"""Prompt monitoring through the real `opik` client and real HTTP, against a stand-in Opik backend on
127.0.0.1: `/rag` records a trace with its spans, query, answer, model ids and token counts; `POST /feedback`
attaches a user score to it; the monitoring job reads the traces back, judges them and reports drift."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from llm_engineering.application.evaluation.judge import JudgeOutcome, JudgeRun, Verdict
from llm_engineering.application.rag.answering import AnswerGenerator
from llm_engineering.bootstrap import Container
from llm_engineering.entrypoints.api import create_app
from llm_engineering.entrypoints.api.dependencies import get_answer_generator, get_retriever
from llm_engineering.infrastructure import opik_tracing
from llm_engineering.settings import get_settings, load_settings
from tests.fixtures.opik_collector import OpikCollector, running_opik_collector
from tests.unit.application.rag.fakes import OnePassageRetriever, ScriptedLLM

pytestmark = [pytest.mark.integration]


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[OpikCollector]:
    with running_opik_collector() as running:
        monkeypatch.delenv("OPIK_API_KEY", raising=False)
        monkeypatch.setenv("OPIK_URL_OVERRIDE", running.url)
        monkeypatch.setenv("OPIK_PROJECT_NAME", "twin-tests")
        monkeypatch.setenv("OPIK_SENTRY_ENABLE", "false")
        monkeypatch.setenv("OPIK_CHECK_TLS_CERTIFICATE", "false")
        get_settings.cache_clear()
        opik_tracing.reset_tracing_state()
        yield running
        opik_tracing.flush()
        opik_tracing.reset_tracing_state()
        get_settings.cache_clear()


def _client(tmp_path) -> TestClient:
    settings = load_settings(env_file=tmp_path / "none.env")
    app = create_app(settings, container=Container(settings), warm_up_on_start=False)
    app.dependency_overrides[get_retriever] = lambda: lambda: OnePassageRetriever()
    app.dependency_overrides[get_answer_generator] = lambda: lambda: AnswerGenerator(ScriptedLLM("Rerank first."))
    return TestClient(app)


def test_rag_call_is_traced_and_feedback_lands_on_its_trace(collector: OpikCollector, tmp_path):
    client = _client(tmp_path)
    response = client.post("/rag", json={"query": "Why rerank?"})
    assert response.status_code == 200, response.text
    trace_id = response.json()["metadata"]["trace_id"]

    feedback = client.post("/feedback", json={"trace_id": trace_id, "score": 1, "reason": "clear"})
    assert feedback.status_code == 200, feedback.text
    assert feedback.json()["recorded"] is True
    opik_tracing.flush()

    trace = collector.traces[trace_id]
    assert trace["name"] == "rag" and trace["project_name"] == "twin-tests"
    assert trace["input"] == {"query": "Why rerank?"}
    assert trace["output"]["answer"] == "Rerank first."
    assert trace["metadata"]["model_id"] == "scripted"
    assert {"prompt_tokens", "completion_tokens", "latency_s"} <= set(trace["metadata"])
    assert {span["name"] for span in collector.spans if span.get("trace_id") == trace_id} >= {
        "retrieval",
        "generation",
    }
    assert collector.feedback == [
        {
            "project_name": "twin-tests",
            "name": "user_feedback",
            "value": 1.0,
            "reason": "clear",
            "source": "sdk",
            "id": trace_id,
            "category_name": None,
        }
    ]


class _Judge:
    model_id = "fake-judge"

    def __init__(self, accuracy: int):
        self.accuracy = accuracy
        self.seen: list[str] = []

    def judge_answers(self, items):
        self.seen.extend(item.instruction for item in items)
        verdict = Verdict.model_validate(
            {
                "criteria": {
                    "accuracy": {"score": self.accuracy, "justification": "checked"},
                    "style": {"score": 2, "justification": "fine"},
                }
            }
        )
        return JudgeRun(("accuracy", "style"), "fake-judge", tuple(JudgeOutcome(verdict, 1) for _ in items))


def test_monitoring_job_reads_traces_back_scores_them_and_reports_drift(collector: OpikCollector, tmp_path):
    from llm_engineering.application.operations.prompt_monitoring import monitor_traces as monitor
    from llm_engineering.infrastructure.opik_monitoring import OpikTraceStore

    start = datetime(2026, 11, 1, tzinfo=UTC)
    for index in range(4):  # older traces were judged 3 earlier; newer ones will be judged 1 now
        trace_id = str(uuid.UUID(int=index + 1))
        collector.traces[trace_id] = {
            "id": trace_id,
            "name": "rag",
            "start_time": (start + timedelta(hours=index)).isoformat().replace("+00:00", "Z"),
            "input": {"query": f"question {index}"},
            "output": {"answer": f"answer {index}"},
            "metadata": {"prompt_tokens": 100 + index, "completion_tokens": 20, "latency_s": 1.0},
        }
    for index in range(2):
        trace = collector.traces[str(uuid.UUID(int=index + 1))]
        trace["feedback_scores"] = [
            {"name": "judge_accuracy", "value": 3.0, "source": "sdk"},
            {"name": "judge_style", "value": 2.0, "source": "sdk"},
        ]

    judge = _Judge(accuracy=1)
    report = monitor(OpikTraceStore(), 10, judge, score_drift=0.3, relative_drift=0.5)
    opik_tracing.flush()

    assert report.traces == 4
    assert judge.seen == ["question 2", "question 3"]  # judged once: the scored ones are left alone
    assert report.judged_now == 2
    assert sorted((s["id"][-1], s["name"], s["value"]) for s in collector.feedback) == [
        ("3", "judge_accuracy", 1.0),
        ("3", "judge_style", 2.0),
        ("4", "judge_accuracy", 1.0),
        ("4", "judge_style", 2.0),
    ]
    assert report.drifted == ["judge_accuracy"]
    accuracy = next(item for item in report.drift if item.metric == "judge_accuracy")
    assert (accuracy.older_mean, accuracy.newer_mean) == (3.0, 1.0)
    assert "| judge_accuracy | 3.000 (n=2) | 1.000 (n=2) | -2.000 |" in report.markdown()

    second = monitor(OpikTraceStore(), 10, judge, score_drift=0.3, relative_drift=0.5)
    assert second.judged_now == 0  # re-runs judge nothing twice
