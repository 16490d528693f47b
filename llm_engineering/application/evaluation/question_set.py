"""The twin's question set: a fixed, versioned list of questions over the handbook corpus that every model
is asked through `/rag` (`bench/twin_questions.py`), so answer figures compare across models and runs.

The set lives in `configs/twin_questions.yaml` (`version`, then `questions`: id, kind, question, links).
Kinds are `how-to`, `comparison` and `opinion`; each question names the article link(s) it was written
from. `near_duplicates` finds questions too close to a dataset's instructions (token Jaccard or equality
after normalisation), so the set stays held out from what a twin was trained on.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from llm_engineering.application.errors import QuestionSetError
from llm_engineering.application.rag.answer_quality import words

QuestionKind = Literal["how-to", "comparison", "opinion"]
QUESTION_KINDS: tuple[QuestionKind, ...] = ("how-to", "comparison", "opinion")
# At or above this token Jaccard a question counts as a near copy of an instruction.
NEAR_DUPLICATE_JACCARD = 0.5
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class TwinQuestion(BaseModel):
    """One question: a stable id (figures are keyed by it), its kind, its text and the articles behind it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    kind: QuestionKind
    question: str = Field(min_length=10)
    links: tuple[str, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"id {value!r} must be lower-case letters, digits and '-'")
        return value

    @field_validator("links")
    @classmethod
    def _web_links(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for link in value:
            if not link.startswith(("https://", "http://")):
                raise ValueError(f"link {link!r} is not a web address")
        return value


class QuestionSet(BaseModel):
    """A versioned question set; ids are unique. Figures of different versions are not comparable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    questions: tuple[TwinQuestion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> QuestionSet:
        counts = Counter(question.id for question in self.questions)
        repeated = sorted(identifier for identifier, count in counts.items() if count > 1)
        if repeated:
            raise ValueError(f"question ids must be unique; repeated: {', '.join(repeated)}")
        return self

    def by_kind(self) -> dict[str, int]:
        """How many questions of each kind (every kind listed, zero included)."""
        return {kind: sum(q.kind == kind for q in self.questions) for kind in QUESTION_KINDS}

    def first(self, limit: int | None) -> list[TwinQuestion]:
        """The first `limit` questions in file order (all of them when None)."""
        return list(self.questions[:limit] if limit else self.questions)


def parse_question_set(data: Mapping[str, Any], source: str = "question set") -> QuestionSet:
    """A `QuestionSet` from already-parsed data; raises QuestionSetError naming `source` and the problem."""
    try:
        return QuestionSet.model_validate(data)
    except ValidationError as error:
        raise QuestionSetError(f"{source}: {error}") from error


def load_question_set(path: Path) -> QuestionSet:
    """The question set in the YAML file `path`; raises QuestionSetError when it is missing or invalid."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise QuestionSetError(f"{path}: not readable as YAML: {error}") from error
    if not isinstance(data, Mapping):
        raise QuestionSetError(f"{path}: expected a mapping with `version` and `questions`")
    return parse_question_set(data, str(path))


def normalized(text: str) -> str:
    """`text` as lower-case words joined by single spaces (punctuation and case ignored)."""
    return " ".join(words(text))


def token_jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' word sets (0.0 when both are empty)."""
    left, right = set(words(a)), set(words(b))
    union = left | right
    return len(left & right) / len(union) if union else 0.0


def near_duplicates(
    questions: Iterable[TwinQuestion], instructions: Iterable[str], threshold: float = NEAR_DUPLICATE_JACCARD
) -> list[tuple[str, str, float]]:
    """(question id, instruction, similarity) for every question equal to an instruction once normalised, or
    whose token Jaccard with it is at least `threshold`."""
    pool = {normalized(text): text for text in instructions if text and text.strip()}
    pool_words = [(set(key.split()), text) for key, text in pool.items()]
    found = []
    for question in questions:
        key = normalized(question.question)
        if key in pool:
            found.append((question.id, pool[key], 1.0))
            continue
        asked = set(key.split())
        for instruction_words, text in pool_words:
            union = asked | instruction_words
            score = len(asked & instruction_words) / len(union) if union else 0.0
            if score >= threshold:
                found.append((question.id, text, round(score, 4)))
    return found
