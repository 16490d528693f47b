"""The evaluation pipeline's style metrics as a `StyleScorer` (`application.evaluation.twin_answers`), so
benches that ask models through `/rag` score answers exactly as the evaluation report does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llm_engineering.application.ports import Embedder
from llm_engineering.model.evaluation.offline_metrics import (
    StyleProfile,
    build_style_profile,
    style_margin,
    stylometric_distance,
)


@dataclass(frozen=True)
class ProfileStyleScorer:
    """Style margin and stylometric distance of answers against one author profile."""

    embedder: Embedder
    profile: StyleProfile

    @classmethod
    def from_author_texts(cls, embedder: Embedder, author_texts: Sequence[str]) -> ProfileStyleScorer:
        """A scorer whose profile is built from the author's texts (ValueError with fewer than two)."""
        return cls(embedder, build_style_profile(embedder, author_texts))

    def __call__(self, answers: Sequence[str]) -> dict[str, list[float | None]]:
        """metric name -> one value per answer, in order."""
        texts: list[str | None] = list(answers)
        return {
            "style_margin": style_margin(self.embedder, texts, self.profile),
            "stylometric_distance": stylometric_distance(texts, self.profile),
        }
