"""The evaluation judge against a REAL OpenAI-compatible server (the tiny random test model served by
`transformers serve`), wired by the composition root: a judge that cannot write the verdict JSON yields
failures counted by reason and empty scores, never invented ones."""

from __future__ import annotations

import pytest

from llm_engineering import bootstrap
from llm_engineering.application.errors import JudgementParseError
from llm_engineering.application.evaluation.judge import AnswerToJudge, LLMJudge, RAGAnswerToJudge
from llm_engineering.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def judge(llm_server, tmp_path):
    settings = load_settings(
        env_file=tmp_path / "none.env",
        EVALUATION_JUDGE_BASE_URL=llm_server["base_url"],
        EVALUATION_JUDGE_MODEL_ID=llm_server["model_id"],
        EVALUATION_JUDGE_MAX_WORKERS=2,
        EVALUATION_JUDGE_TIMEOUT_S=60,
    )
    built = bootstrap.build_evaluation_judge(settings)
    assert isinstance(built, LLMJudge)
    # Short replies keep the CPU model quick; two tries show the retry path against a real server.
    built.max_new_tokens, built.max_attempts, built.backoff_s, built.progress = 48, 2, 0.0, False
    yield built
    built.llm.close()  # type: ignore[attr-defined]


def assert_failures_are_counted_not_scored(run, items: int) -> None:
    assert len(run.outcomes) == items
    # A 2-layer random model cannot write the verdict JSON: every item fails, for a parse reason.
    assert run.judged == 0
    assert sum(run.failures.values()) == items
    assert set(run.failures) <= set(JudgementParseError.REASONS), run.failures
    for outcome in run.outcomes:
        assert outcome.verdict is None and outcome.attempts == 2 and outcome.detail
    for criterion in run.criteria:
        assert run.scores(criterion) == [None] * items


def test_garbage_answer_judgements_are_failures_by_reason(judge, llm_server):
    items = [
        AnswerToJudge("Explain why rerankers help retrieval.", "They read the query and passage together."),
        AnswerToJudge("What is chunking?", "Cutting documents into passages.", reference="Splitting text for search."),
        AnswerToJudge("Write a post about vector databases.", "Vector databases store embeddings."),
    ]
    run = judge.judge_answers(items)
    assert run.judge_model == llm_server["model_id"]
    assert_failures_are_counted_not_scored(run, len(items))
    assert run.as_metadata()["attempts"] == 2 * len(items)


def test_garbage_rag_judgements_are_failures_by_reason(judge):
    items = [
        RAGAnswerToJudge("What does BM25 rank by?", ("BM25 scores passages by keyword overlap.",), "Keywords."),
        RAGAnswerToJudge("Who wrote the notes?", "No passages matched.", "The passages do not say."),
    ]
    assert_failures_are_counted_not_scored(judge.judge_rag(items), len(items))
