import pytest

from llm_engineering.model.evaluation.offline_metrics import (
    build_style_profile,
    reference_similarity,
    rouge_l,
    style_margin,
    stylometric_distance,
)
from tests.unit.application.rag.fakes import BagOfWordsEmbedder


@pytest.mark.parametrize(
    ("answer", "reference", "expected"),
    [
        ("the cat sat on the mat", "the cat sat on the mat", 1.0),
        ("a b c d", "a c d e", 0.75),  # LCS "a c d": P = R = 3/4
        ("a x b y c", "a b c", 0.75),  # a subsequence, not a substring: P = 3/5, R = 1
        ("police killed the gunman", "police kill the gunman", 1.0),  # stemmed: killed = kill
        ("x y z", "a b c", 0.0),
    ],
)
def test_rouge_l_known_values(answer, reference, expected):
    assert rouge_l([answer], [reference]) == [pytest.approx(expected)]


def test_missing_answers_stay_missing_and_misalignment_is_an_error():
    assert rouge_l([None, "a b"], ["a b", "a b"]) == [None, pytest.approx(1.0)]
    assert reference_similarity(BagOfWordsEmbedder(), [None], ["x"]) == [None]
    with pytest.raises(ValueError, match="aligned"):
        rouge_l(["a"], ["a", "b"])


def test_reference_similarity_is_one_for_the_reference_itself():
    scores = reference_similarity(
        BagOfWordsEmbedder(), ["qdrant stores vectors", "bread"], ["qdrant stores vectors"] * 2
    )
    assert scores[0] == pytest.approx(1.0) and scores[1] < 0.5


def test_style_margin_prefers_the_author_over_generic_prose():
    embedder = BagOfWordsEmbedder()
    author = [
        "we ship the feature pipeline with bytewax and qdrant",
        "our streaming pipeline ingests posts with bytewax",
    ]
    profile = build_style_profile(embedder, author)
    author_like, generic = style_margin(
        embedder,
        ["we run the bytewax streaming pipeline into qdrant", "Certainly! Here is an overview of the topic."],
        profile,
    )
    assert author_like > 0 > generic
    assert style_margin(embedder, [None], profile) == [None]


def test_stylometric_distance_is_zero_for_the_author_average():
    profile = build_style_profile(
        BagOfWordsEmbedder(), ["Short one. Two words.", "Short one. Two words."] * 2 + ["Hm."]
    )
    close, far = stylometric_distance(["Short one. Two words.", "An extraordinarily long sentence " * 5], profile)
    assert close < far
    with pytest.raises(ValueError, match="at least 2"):
        build_style_profile(BagOfWordsEmbedder(), ["only one"])
