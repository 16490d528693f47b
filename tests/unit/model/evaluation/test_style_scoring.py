"""The evaluation report's style metrics, as the scorer the /rag question-set bench passes to `summarize`."""

from __future__ import annotations

import pytest

from llm_engineering.application.evaluation.twin_answers import RagResult, summarize
from llm_engineering.model.evaluation.offline_metrics import build_style_profile, style_margin, stylometric_distance
from llm_engineering.model.evaluation.style_scoring import ProfileStyleScorer
from tests.unit.application.rag.fakes import BagOfWordsEmbedder

AUTHOR = [
    "I rerank before I prompt. My passages stay short.",
    "We keep the vector DB fresh with a streaming pipeline. Why wait for a batch?",
    "I split every system into feature, training and inference pipelines.",
]


def test_the_scorer_gives_the_reports_own_values():
    embedder = BagOfWordsEmbedder()
    scorer = ProfileStyleScorer.from_author_texts(embedder, AUTHOR)
    answers = ["I rerank my passages before I prompt.", "Certainly! Here is an overview of the topic."]
    scores = scorer(answers)
    profile = build_style_profile(embedder, AUTHOR)
    assert scores["style_margin"] == pytest.approx(style_margin(embedder, answers, profile))
    assert scores["stylometric_distance"] == pytest.approx(stylometric_distance(answers, profile))
    assert scores["style_margin"][0] > scores["style_margin"][1]


def test_summarize_averages_the_scorers_values_over_the_models_own_answers():
    scorer = ProfileStyleScorer.from_author_texts(BagOfWordsEmbedder(), AUTHOR)
    result = RagResult("h1", "how-to", 1.0, answer="I rerank my passages.", answer_source="model", guard="passed")
    summary = summarize("base", [result], scorer)
    assert set(summary.style) == {"style_margin", "stylometric_distance"}
    assert summary.style["style_margin"] == pytest.approx(scorer(["I rerank my passages."])["style_margin"][0])


def test_too_few_author_texts_cannot_make_a_profile():
    with pytest.raises(ValueError, match="at least 2"):
        ProfileStyleScorer.from_author_texts(BagOfWordsEmbedder(), ["only one"])
