"""The scoring use case: held-out loss only for local folders, the judge modes, the logged means."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_engineering.application.evaluation.judge import LLMJudge
from llm_engineering.application.llm.client import LLMResponse
from llm_engineering.model.errors import EvaluationError
from llm_engineering.model.evaluation.generation import GeneratedAnswer, GenerationRun, SamplingConfig
from llm_engineering.model.evaluation.model_evaluation import EvaluationSample, ModelUnderTest
from llm_engineering.model.evaluation.report import MetricScores
from llm_engineering.model.evaluation.scoring import metric_means, score_answers
from llm_engineering.model.registry import ModelRegistry

SAMPLES = [
    EvaluationSample(instruction="What is RAG?", reference="Retrieval first, then generation.", category="posts"),
    EvaluationSample(instruction="Why rerank?", reference="Precision of the top passages.", category="articles"),
]
AUTHOR_TEXTS = ["I write short sentences. They say one thing.", "Reranking reads the question and the passage."]
OFFLINE = ["rouge_l", "reference_similarity", "style_margin", "stylometric_distance"]


class FakeEmbedder:
    model_id = "fake-embedder"
    dimension = 3
    max_input_tokens = 64

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed(self, texts, batch_size=None):
        return [[1.0, 0.0, 0.0] if "RAG" in text else [0.0, 1.0, 0.0] for text in texts]


class JudgeLLM:
    model_id = "fake-judge"
    endpoint = "memory://judge"

    def chat(self, messages, parameters=None) -> LLMResponse:
        verdict = {name: {"score": 3, "justification": "Fine."} for name in ("accuracy", "style")}
        return LLMResponse(text=json.dumps(verdict), model_id=self.model_id)

    def complete(self, prompt, parameters=None) -> LLMResponse:
        raise AssertionError("the judge only chats")

    def ping(self) -> None:
        return None


def run(answers: list[str | None]) -> GenerationRun:
    return GenerationRun(
        model="twin",
        source="endpoint",
        backend="openai",
        sampling=SamplingConfig(),
        answers=[
            GeneratedAnswer(index=i, instruction=s.instruction, answer=a)
            for i, (s, a) in enumerate(zip(SAMPLES, answers, strict=True))
        ],
        seconds=1.0,
    )


def heldout_loss(model_dir, samples, torch_threads) -> MetricScores:
    heldout_loss.calls.append((model_dir, torch_threads))
    return MetricScores(metric="heldout_loss", source="offline", higher_is_better=False, values=[2.0, 4.0])


heldout_loss.calls = []


def score(tmp_path: Path, source: str, judge=lambda: None, **kwargs):
    return score_answers(
        SAMPLES,
        AUTHOR_TEXTS,
        run(["RAG retrieves first, then generates.", None]),
        ModelUnderTest(name="twin", source=source),
        embedder=FakeEmbedder(),
        registry=ModelRegistry(tmp_path / "registry"),
        base_model_dir=tmp_path / "base",
        judge=judge,
        heldout_scorer=heldout_loss,
        **kwargs,
    )


def test_an_endpoint_gets_offline_metrics_only_and_no_judge_by_default(tmp_path: Path):
    heldout_loss.calls.clear()
    scored = score(tmp_path, "endpoint")
    assert [metric.metric for metric in scored.scores.metrics] == OFFLINE
    assert heldout_loss.calls == []
    assert scored.metadata["model"] == "twin"
    assert scored.metadata["judge"] == "off"
    assert set(scored.metadata["means"]) == set(OFFLINE)  # the failed answer is left out of each mean


def test_a_local_model_adds_its_heldout_loss(tmp_path: Path):
    heldout_loss.calls.clear()
    scored = score(tmp_path, "base", torch_threads=3)
    assert heldout_loss.calls == [(str(tmp_path / "base"), 3)]
    assert scored.metadata["means"]["heldout_loss"] == 3.0


def test_heldout_off_skips_the_loss(tmp_path: Path):
    heldout_loss.calls.clear()
    score(tmp_path, "base", heldout=False)
    assert heldout_loss.calls == []


def test_a_configured_judge_adds_its_scores_and_flat_counts(tmp_path: Path):
    judge = LLMJudge(JudgeLLM(), max_workers=1, progress=False)
    scored = score(tmp_path, "endpoint", judge=lambda: judge)
    metrics = [metric.metric for metric in scored.scores.metrics]
    assert metrics == [*OFFLINE, "judge_accuracy", "judge_style"]
    assert scored.metadata["means"]["judge_accuracy"] == 3.0
    assert scored.metadata["judge_judge_model"] == "fake-judge"  # every judge count gets the judge_ prefix
    assert scored.metadata["judge_no_answer"] == 1
    assert scored.metadata["judge_num_judged"] == 1
    assert None not in scored.metadata.values()


def test_judge_off_never_asks_for_the_judge(tmp_path: Path):
    def no_judge_wanted():
        raise AssertionError("judge: off builds no judge")

    assert score(tmp_path, "endpoint", judge=no_judge_wanted, judge_mode="off").metadata["judge"] == "off"


def test_judge_required_without_one_is_an_evaluation_error(tmp_path: Path):
    with pytest.raises(EvaluationError, match="EVALUATION_JUDGE_BASE_URL"):
        score(tmp_path, "endpoint", judge_mode="required")


def test_metric_means_skip_missing_values_and_empty_metrics():
    metrics = [
        MetricScores(metric="a", source="offline", higher_is_better=True, values=[1.0, None, 2.0]),
        MetricScores(metric="b", source="offline", higher_is_better=True, values=[None, None]),
    ]
    assert metric_means(metrics) == {"a": 1.5}
