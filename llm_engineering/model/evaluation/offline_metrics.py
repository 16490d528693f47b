"""Answer metrics that need no judge, one value per answer (None where a model gave no answer):

- `rouge_l`: ROUGE-L F1 against the author's reference answer (Google's `rouge-score` package, stemmed);
- `reference_similarity`: cosine of the answer's and the reference's embeddings (the project's embedder);
- `style_margin`: how much closer the answer's embedding is to the centroid of the author's own writing
  than to a centroid of generic assistant prose (positive: reads more like the author);
- `stylometric_distance`: mean normalised distance of simple style features (sentence and word length,
  vocabulary variety, first person, questions) from the author's average (lower is closer).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from llm_engineering.application.ports import Embedder
from llm_engineering.model.evaluation.text_metrics import (
    STYLE_FEATURES,
    cosine_similarity,
    style_distance,
    stylometrics,
)

# What the twin should NOT sound like: generic assistant prose on the corpus's topics, written for this
# purpose. Its centroid is the "generic" side of `style_margin`.
GENERIC_ASSISTANT_TEXTS: tuple[str, ...] = (
    (
        "Certainly! Here is an overview of the topic. There are several key factors to consider, and each of them "
        "plays an important role in ensuring optimal results."
    ),
    (
        "In conclusion, leveraging these techniques can significantly enhance performance, scalability and "
        "reliability, making them an essential part of any modern workflow."
    ),
    (
        "As an AI language model, I can provide a general explanation. Machine learning models learn patterns from "
        "data in order to make predictions on new, unseen inputs."
    ),
    (
        "Great question! Retrieval-augmented generation combines a retriever with a generator to produce more "
        "accurate and relevant responses for a wide range of applications."
    ),
    (
        "It is important to note that the best approach depends on your specific use case, requirements and "
        "constraints. Consider evaluating multiple options before making a decision."
    ),
    (
        "Fine-tuning allows a pre-trained model to adapt to a specific task. This process typically involves "
        "training on a smaller, task-specific dataset to improve overall performance."
    ),
    (
        "Overall, data pipelines are a crucial component of the machine learning lifecycle, enabling organizations "
        "to transform raw data into valuable insights efficiently and effectively."
    ),
    (
        "Here are some best practices: 1. Define clear objectives. 2. Monitor key metrics. 3. Iterate continuously "
        "to achieve the desired outcomes and maximize value."
    ),
)


@dataclass(frozen=True)
class StyleProfile:
    """The author's writing summarised: embedding centroids (author, generic) and style-feature means and
    spreads, from samples of the author's own text."""

    author_centroid: list[float]
    generic_centroid: list[float]
    feature_means: dict[str, float]
    feature_scales: dict[str, float]
    texts: int


def build_style_profile(embedder: Embedder, author_texts: Sequence[str]) -> StyleProfile:
    """A profile from the author's texts (e.g. the answers of the dataset's train split); raises
    ValueError with fewer than two non-empty texts (a spread needs two)."""
    texts = [text for text in author_texts if text.strip()]
    if len(texts) < 2:
        raise ValueError(f"A style profile needs at least 2 texts of the author, got {len(texts)}.")
    features = [stylometrics(text) for text in texts]
    return StyleProfile(
        author_centroid=_centroid(embedder.embed(texts)),
        generic_centroid=_centroid(embedder.embed(list(GENERIC_ASSISTANT_TEXTS))),
        feature_means={name: statistics.fmean(f[name] for f in features) for name in STYLE_FEATURES},
        feature_scales={name: statistics.pstdev(f[name] for f in features) for name in STYLE_FEATURES},
        texts=len(texts),
    )


def rouge_l(answers: Sequence[str | None], references: Sequence[str]) -> list[float | None]:
    """ROUGE-L F1 of each answer against its reference (rouge-score, Porter stemming)."""
    from rouge_score import rouge_scorer

    _check_aligned(answers, references)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [
        None if answer is None else scorer.score(reference, answer)["rougeL"].fmeasure
        for answer, reference in zip(answers, references, strict=True)
    ]


def reference_similarity(
    embedder: Embedder, answers: Sequence[str | None], references: Sequence[str]
) -> list[float | None]:
    """Cosine similarity of each answer's embedding to its reference's."""
    _check_aligned(answers, references)
    present = [index for index, answer in enumerate(answers) if answer is not None]
    vectors = embedder.embed([answers[i] or "" for i in present] + [references[i] for i in present])
    scores: list[float | None] = [None] * len(answers)
    for position, index in enumerate(present):
        scores[index] = cosine_similarity(vectors[position], vectors[len(present) + position])
    return scores


def style_margin(embedder: Embedder, answers: Sequence[str | None], profile: StyleProfile) -> list[float | None]:
    """cos(answer, author centroid) - cos(answer, generic centroid) per answer."""
    present = [index for index, answer in enumerate(answers) if answer is not None]
    vectors = embedder.embed([answers[i] or "" for i in present]) if present else []
    scores: list[float | None] = [None] * len(answers)
    for index, vector in zip(present, vectors, strict=True):
        scores[index] = cosine_similarity(vector, profile.author_centroid) - cosine_similarity(
            vector, profile.generic_centroid
        )
    return scores


def stylometric_distance(answers: Sequence[str | None], profile: StyleProfile) -> list[float | None]:
    """`style_distance` of each answer's style features from the author's means, scaled by their spread."""
    return [
        None if answer is None else style_distance(stylometrics(answer), profile.feature_means, profile.feature_scales)
        for answer in answers
    ]


def _centroid(vectors: Sequence[Sequence[float]]) -> list[float]:
    return [statistics.fmean(column) for column in zip(*vectors, strict=True)]


def _check_aligned(answers: Sequence[str | None], references: Sequence[str]) -> None:
    if len(answers) != len(references):
        raise ValueError(f"{len(answers)} answers but {len(references)} references: they must be aligned.")
