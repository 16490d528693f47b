"""Who wrote an answer, said so a reader understands: the model, or the author's own sentences quoted
because the answer guard rejected the model's reply (and why, in plain words, not the guard's figures).

Pure: built from the generation trace's `answer_source` and `guard` and the id of the model that was asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

WrittenBy = Literal["model", "author_passages"]

# The guard's reasons (`AnswerGuard.problem`) start with these words; what follows them are figures.
_PLAIN_PROBLEMS: tuple[tuple[str, str], ...] = (
    ("the reply has fewer than", "was too short to say anything"),
    ("the reply restates the request", "only restated the question"),
    ("the reply repeats itself", "repeated itself"),
    ("the reply is not grounded", "did not stick to the sources"),
    ("the reply is off the request's topic", "was off the question's topic"),
)
_UNKNOWN_PROBLEM = "did not pass the answer check"


@dataclass(frozen=True)
class Authorship:
    """Who wrote the answer shown (`written_by`), the model that was asked, and why its reply was not shown
    (or, when shown anyway, what was wrong with it); `reason` is None when the reply passed the guard."""

    written_by: WrittenBy
    model: str
    reason: str | None = None


def plain_problem(guard_reason: str) -> str:
    """What was wrong with the model's reply, as a verb phrase ("repeated itself"), from the guard's reason."""
    lowered = guard_reason.strip().lower()
    for prefix, plain in _PLAIN_PROBLEMS:
        if lowered.startswith(prefix):
            return plain
    return _UNKNOWN_PROBLEM


def plain_reason(guard_reason: str | None, written_by: WrittenBy) -> str | None:
    """One sentence a user understands for the guard's technical reason; None when the reply passed.

    With `author_passages` the sentence says the answer is the author's quoted sentences; with `model` the
    reply was flagged but shown anyway (no fallback, or no sentence of the sources fitted).
    """
    if not guard_reason or guard_reason == "passed":
        return None
    problem = plain_problem(guard_reason)
    if written_by == "author_passages":
        return f"The model's reply {problem}, so these are the author's own sentences from the sources."
    return f"The model's reply {problem}; it is shown as written because no sentence of the sources could replace it."


def authorship_of(generation: dict, model: str) -> Authorship:
    """The authorship of an answer from its generation trace (`answer_source`, `guard`) and the model asked."""
    written_by: WrittenBy = "author_passages" if generation.get("answer_source") == "extractive" else "model"
    return Authorship(written_by=written_by, model=model, reason=plain_reason(generation.get("guard"), written_by))
