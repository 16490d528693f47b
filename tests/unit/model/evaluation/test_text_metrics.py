"""Offline text metrics with hand-computed values: ROUGE-L, cosine similarity, stylometrics, style distance."""

from __future__ import annotations

import math

import pytest

from llm_engineering.model.evaluation.text_metrics import (
    STYLE_FEATURES,
    cosine_similarity,
    style_distance,
    stylometrics,
    words,
)


def test_words_are_lowercase_letter_and_digit_runs():
    assert words("Hello, World! snake_case 42 café") == ["hello", "world", "snake", "case", "42", "café"]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([1.0, 0.0], [0.0, 1.0], 0.0),
        ([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], 1.0),
        ([1.0, 2.0], [-1.0, -2.0], -1.0),
        ([1.0, 1.0], [1.0, 0.0], 1 / math.sqrt(2)),
        ([0.0, 0.0], [1.0, 2.0], 0.0),
        ([0.0, 0.0], [0.0, 0.0], 0.0),
    ],
)
def test_cosine_similarity_known_values(a, b, expected):
    assert cosine_similarity(a, b) == pytest.approx(expected)


def test_cosine_similarity_stays_within_bounds_for_parallel_vectors():
    vector = [0.1, 0.7, 0.3, 1e-8]
    assert -1.0 <= cosine_similarity(vector, vector) <= 1.0


def test_cosine_similarity_rejects_different_lengths():
    with pytest.raises(ValueError, match="equal length"):
        cosine_similarity([1.0], [1.0, 2.0])


def test_stylometrics_known_values():
    # Sentences: "I like my dogs." (4 words), "Do we?" (2 words): 6 words, 2 sentences.
    features = stylometrics("I like my dogs. Do we?")
    assert set(features) == set(STYLE_FEATURES)
    assert features["mean_sentence_length"] == pytest.approx(3.0)
    assert features["mean_word_length"] == pytest.approx((1 + 4 + 2 + 4 + 2 + 2) / 6)
    assert features["type_token_ratio"] == pytest.approx(1.0)
    assert features["first_person_share"] == pytest.approx(3 / 6)  # I, my, we
    assert features["question_share"] == pytest.approx(0.5)


def test_stylometrics_type_token_ratio_is_case_insensitive():
    assert stylometrics("The the THE cat")["type_token_ratio"] == pytest.approx(2 / 4)


def test_stylometrics_text_without_final_punctuation_is_one_sentence():
    features = stylometrics("no punctuation here at all")
    assert features["mean_sentence_length"] == pytest.approx(5.0)
    assert features["question_share"] == 0.0


def test_stylometrics_ignores_punctuation_only_fragments_and_quotes():
    features = stylometrics('He asked "why?" ... Then left!!')
    # Sentences with words: 'He asked "why?', 'Then left!!'; the first ends with "?".
    assert features["mean_sentence_length"] == pytest.approx(2.5)
    assert features["question_share"] == pytest.approx(0.5)


@pytest.mark.parametrize("text", ["", "   ", "?!..."])
def test_stylometrics_without_words_is_all_zero(text):
    assert stylometrics(text) == dict.fromkeys(STYLE_FEATURES, 0.0)


def test_stylometrics_is_deterministic():
    text = "We build models. Do they work? I think so!"
    assert stylometrics(text) == stylometrics(text)


def test_style_distance_is_mean_scaled_absolute_difference():
    text = {"a": 10.0, "b": 0.5}
    author = {"a": 12.0, "b": 0.2}
    scale = {"a": 4.0, "b": 0.3}
    # |10 - 12| / 4 = 0.5, |0.5 - 0.2| / 0.3 = 1.0 -> mean 0.75.
    assert style_distance(text, author, scale) == pytest.approx(0.75)


def test_style_distance_of_identical_profiles_is_zero():
    profile = stylometrics("I write short posts. Do you?")
    assert style_distance(profile, profile, dict.fromkeys(profile, 1.0)) == 0.0


def test_style_distance_ignores_missing_features_and_zero_scale():
    text = {"a": 1.0, "b": 5.0, "c": 9.0, "d": 3.0}
    author = {"a": 2.0, "b": 0.0, "d": 100.0}
    scale = {"a": 2.0, "b": 0.0, "c": 1.0}
    # Only "a" is in all three with a non-zero scale: |1 - 2| / 2.
    assert style_distance(text, author, scale) == pytest.approx(0.5)


def test_style_distance_lower_is_closer():
    author = {"a": 10.0}
    scale = {"a": 1.0}
    assert style_distance({"a": 10.5}, author, scale) < style_distance({"a": 13.0}, author, scale)


def test_style_distance_without_comparable_features_is_rejected():
    with pytest.raises(ValueError, match="no feature"):
        style_distance({"a": 1.0}, {"b": 1.0}, {"a": 1.0, "b": 1.0})


def test_style_distance_rejects_negative_scale():
    with pytest.raises(ValueError, match="negative"):
        style_distance({"a": 1.0}, {"a": 2.0}, {"a": -1.0})
