"""Offline text metrics that need no judge: cosine similarity of embeddings, and simple stylometric
features with a distance to the author's profile (lower is closer). ROUGE-L comes from the maintained
`rouge-score` package (see `offline_metrics.rouge_l`).

All functions are pure and deterministic. Words are maximal runs of Unicode letters and digits, compared
in lowercase.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

# Letters and digits only (`\w` without "_"): rouge-score's tokenizer also splits on underscores.
_WORD = re.compile(r"[^\W_]+")
# A sentence is a run of text up to a run of terminal punctuation (or the end of the text).
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_FIRST_PERSON = frozenset({"i", "me", "my", "we", "our", "us"})

STYLE_FEATURES = (
    "mean_sentence_length",
    "mean_word_length",
    "type_token_ratio",
    "first_person_share",
    "question_share",
)


def words(text: str) -> list[str]:
    """The lowercase word tokens of `text` (runs of Unicode letters and digits)."""
    return _WORD.findall(text.lower())


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine of the angle between vectors `a` and `b`, in [-1, 1]; 0.0 when either is the zero vector.

    Raises ValueError when the lengths differ.
    """
    if len(a) != len(b):
        raise ValueError(f"cosine_similarity needs vectors of equal length, got {len(a)} and {len(b)}")
    norm_a = math.sqrt(math.fsum(x * x for x in a))
    norm_b = math.sqrt(math.fsum(y * y for y in b))
    if norm_a == 0.0 or norm_b == 0.0:
        return 0.0
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    # Rounding can push the ratio a hair past +-1 for parallel vectors.
    return max(-1.0, min(1.0, dot / (norm_a * norm_b)))


def stylometrics(text: str) -> dict[str, float]:
    """Style features of `text`, keyed by STYLE_FEATURES:

    - mean_sentence_length: words per sentence, over sentences with at least one word; a sentence is text
      up to a run of ".", "!" or "?" (or the end of the text);
    - mean_word_length: characters per word;
    - type_token_ratio: distinct words / words (case-insensitive);
    - first_person_share: share of words that are I, me, my, we, our or us;
    - question_share: share of sentences whose closing punctuation ends with "?".

    A text without words gives 0.0 for every feature.
    """
    tokens = words(text)
    sentences = [s.strip() for s in _SENTENCE.findall(text) if _WORD.search(s)]
    if not tokens or not sentences:
        return dict.fromkeys(STYLE_FEATURES, 0.0)
    return {
        "mean_sentence_length": len(tokens) / len(sentences),
        "mean_word_length": sum(len(token) for token in tokens) / len(tokens),
        "type_token_ratio": len(set(tokens)) / len(tokens),
        "first_person_share": sum(token in _FIRST_PERSON for token in tokens) / len(tokens),
        "question_share": sum(sentence.endswith("?") for sentence in sentences) / len(sentences),
    }


def style_distance(
    text_features: Mapping[str, float], author_features: Mapping[str, float], scale: Mapping[str, float]
) -> float:
    """Mean over features of |text - author| / scale: lower is closer to the author's style.

    Features missing from either profile or from `scale` are ignored, and so are features whose scale is 0
    (no spread to normalise by). Raises ValueError for a negative scale or when no feature is comparable.
    """
    distances = []
    for name in text_features.keys() & author_features.keys() & scale.keys():
        spread = scale[name]
        if spread < 0:
            raise ValueError(f"scale of {name!r} must not be negative, got {spread}")
        if spread == 0:
            continue
        distances.append(abs(text_features[name] - author_features[name]) / spread)
    if not distances:
        raise ValueError("style_distance found no feature present in both profiles with a non-zero scale")
    return math.fsum(distances) / len(distances)
