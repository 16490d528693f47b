"""The LLM judge of model evaluation and RAG evaluation: scores on 1-3 per criterion, each with a justification.

Answers are graded on accuracy and style, RAG answers on faithfulness and relevance. Replies are parsed
strictly into a `Verdict`; a failed call or an unusable reply is retried, then counted by reason in the
`JudgeRun` and left as None. A missing judgement is never replaced by a default score.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, field_validator
from tqdm.auto import tqdm

from llm_engineering.application.errors import JudgementParseError, LLMError
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters, LLMClient
from llm_engineering.domain import prompts

MIN_SCORE, MAX_SCORE = 1, 3
ANSWER_CRITERIA = prompts.ANSWER_JUDGE_CRITERIA
RAG_CRITERIA = prompts.RAG_JUDGE_CRITERIA


# --- Verdicts --------------------------------------------------------------------------------------------
class CriterionScore(BaseModel):
    """One criterion's grade: a whole number from 1 to 3 and a non-empty justification."""

    model_config = ConfigDict(frozen=True, strict=True)

    score: int = Field(ge=MIN_SCORE, le=MAX_SCORE)
    justification: str

    @field_validator("justification")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("justification must not be empty")
        return value.strip()


class Verdict(BaseModel):
    """A whole judgement: every requested criterion mapped to its grade."""

    model_config = ConfigDict(frozen=True)

    criteria: dict[str, CriterionScore]

    def score(self, criterion: str) -> int:
        return self.criteria[criterion].score

    def justification(self, criterion: str) -> str:
        return self.criteria[criterion].justification


# --- Parsing ---------------------------------------------------------------------------------------------
def _json_objects(reply: str) -> tuple[list[dict[str, Any]], bool]:
    """The JSON objects in `reply`, outermost only, and whether some `{` started JSON that does not decode."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    broken = False
    position = reply.find("{")
    while position != -1:
        try:
            value, end = decoder.raw_decode(reply, position)
        except json.JSONDecodeError:
            broken = True
            position = reply.find("{", position + 1)
            continue
        found.append(value)
        position = reply.find("{", end)
    return found, broken


def _criterion(name: str, value: object) -> CriterionScore:
    if not isinstance(value, dict):
        raise JudgementParseError("bad_type", f"{name!r} is {type(value).__name__}, not an object")
    score = value.get("score")
    # bool is an int subclass, and 2.0 or "2" are not what we asked for: only a JSON integer passes.
    if type(score) is not int:
        raise JudgementParseError("bad_type", f"{name!r} score {score!r} is not a whole number")
    if not MIN_SCORE <= score <= MAX_SCORE:
        raise JudgementParseError("out_of_range", f"{name!r} score {score} is outside {MIN_SCORE}-{MAX_SCORE}")
    justification = value.get("justification")
    if justification is not None and not isinstance(justification, str):
        raise JudgementParseError("bad_type", f"{name!r} justification is not a string")
    if not justification or not justification.strip():
        raise JudgementParseError("empty_justification", f"{name!r} has no justification")
    return CriterionScore(score=score, justification=justification)


def parse_judgement(reply: str, criteria: tuple[str, ...]) -> Verdict:
    """The verdict in a judge reply, or `JudgementParseError` with a `.reason` saying what was wrong.

    Text around the JSON object (code fences, a preamble) is ignored; its content is not forgiven: every
    criterion must be present with an integer score in 1-3 and a non-empty justification. Criterion keys
    are matched case-insensitively; extra keys are ignored.
    """
    if "{" not in reply:
        raise JudgementParseError("no_json", "the reply holds no JSON object")
    objects, broken = _json_objects(reply)
    wanted = {name.lower() for name in criteria}
    # Prose may hold other braces: take the object that names a criterion. Without one, a JSON object that
    # does not decode (often a reply cut off by the token limit) is the better diagnosis than a missing key.
    chosen = next((obj for obj in objects if wanted & {str(key).strip().lower() for key in obj}), None)
    if chosen is None and (broken or not objects):
        raise JudgementParseError("invalid_json", "the reply's JSON object does not decode")
    chosen = chosen if chosen is not None else objects[0]
    by_name = {str(key).strip().lower(): value for key, value in chosen.items()}
    grades: dict[str, CriterionScore] = {}
    for name in criteria:
        if name.lower() not in by_name:
            raise JudgementParseError("missing_criterion", f"the reply has no {name!r}")
        grades[name] = _criterion(name, by_name[name.lower()])
    return Verdict(criteria=grades)


# --- Items and runs --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnswerToJudge:
    """A model's answer to an instruction, with the author's reference answer when there is one."""

    instruction: str
    answer: str
    reference: str | None = None


@dataclass(frozen=True)
class RAGAnswerToJudge:
    """A RAG answer with the question and the retrieved context (one string, or its passages)."""

    question: str
    context: str | tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class JudgeOutcome:
    """One item's result: a verdict, or None with the reason of the last failure and its message.

    `failure` is a `JudgementParseError` reason (the reply was unusable) or `llm_error:<error class>`
    (the call failed); `attempts` counts the calls made for the item.
    """

    verdict: Verdict | None
    attempts: int
    failure: str | None = None
    detail: str = ""

    @property
    def judged(self) -> bool:
        return self.verdict is not None


@dataclass(frozen=True)
class JudgeRun:
    """Every item's outcome in input order, the failures by reason, and the judge that produced them."""

    criteria: tuple[str, ...]
    judge_model: str
    outcomes: tuple[JudgeOutcome, ...]

    @property
    def judged(self) -> int:
        return sum(outcome.judged for outcome in self.outcomes)

    @property
    def failures(self) -> Counter[str]:
        return Counter(outcome.failure for outcome in self.outcomes if outcome.failure is not None)

    def _check(self, criterion: str) -> None:
        if criterion not in self.criteria:
            raise KeyError(f"{criterion!r} is not a criterion of this run ({', '.join(self.criteria)})")

    def scores(self, criterion: str) -> list[int | None]:
        """The scores of one criterion aligned with the items: None where the item was not judged."""
        self._check(criterion)
        return [outcome.verdict.score(criterion) if outcome.verdict else None for outcome in self.outcomes]

    def justifications(self, criterion: str) -> list[str | None]:
        self._check(criterion)
        return [outcome.verdict.justification(criterion) if outcome.verdict else None for outcome in self.outcomes]

    def as_metadata(self) -> dict[str, Any]:
        """Counts for experiment trackers and reports (no per-item text)."""
        return {
            "judge_model": self.judge_model,
            "criteria": list(self.criteria),
            "num_items": len(self.outcomes),
            "num_judged": self.judged,
            "failures": dict(sorted(self.failures.items())),
            "attempts": sum(outcome.attempts for outcome in self.outcomes),
        }


# --- The judge -------------------------------------------------------------------------------------------
@dataclass
class LLMJudge:
    """Grades items with any `LLMClient`, `max_workers` at a time, up to `max_attempts` tries per item.

    A failed call (when the error is retryable) or an unusable reply is tried again after
    `backoff_s * 2**n` seconds; an unusable reply is sent back with a correction, since greedy decoding
    would otherwise repeat it. `sleep` is injectable so tests never wait.
    """

    llm: LLMClient
    max_workers: int = 4
    max_attempts: int = 3
    backoff_s: float = 1.0
    max_new_tokens: int = 400
    progress: bool = True
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.max_workers < 1 or self.max_attempts < 1:
            raise ValueError("max_workers and max_attempts must be >= 1")
        if self.backoff_s < 0:
            raise ValueError("backoff_s must be >= 0")

    @property
    def model_id(self) -> str:
        return self.llm.model_id

    def judge_answers(self, items: Sequence[AnswerToJudge]) -> JudgeRun:
        """Accuracy and style of each answer (model evaluation)."""
        turns = [prompts.format_answer_judge_prompt(item.instruction, item.answer, item.reference) for item in items]
        return self._run(turns, ANSWER_CRITERIA, "Judging answers")

    def judge_rag(self, items: Sequence[RAGAnswerToJudge]) -> JudgeRun:
        """Faithfulness to the retrieved context and relevance to the question of each RAG answer."""
        turns = [prompts.format_rag_judge_prompt(item.question, item.context, item.answer) for item in items]
        return self._run(turns, RAG_CRITERIA, "Judging RAG answers")

    def _run(self, user_turns: list[str], criteria: tuple[str, ...], description: str) -> JudgeRun:
        outcomes: dict[int, JudgeOutcome] = {}
        bar = tqdm(total=len(user_turns), desc=description, unit="item", disable=not self.progress)
        try:
            if self.max_workers == 1 or len(user_turns) <= 1:
                for index, turn in enumerate(user_turns):
                    outcomes[index] = self._judge_one(turn, criteria)
                    bar.update()
            else:
                with ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="llm-judge") as pool:
                    futures = {pool.submit(self._judge_one, turn, criteria): i for i, turn in enumerate(user_turns)}
                    for future in as_completed(futures):
                        outcomes[futures[future]] = future.result()
                        bar.update()
        finally:
            bar.close()
        run = JudgeRun(criteria, self.model_id, tuple(outcomes[index] for index in range(len(user_turns))))
        _log_failures(run)
        return run

    def _judge_one(self, user_turn: str, criteria: tuple[str, ...]) -> JudgeOutcome:
        messages = [ChatMessage("system", prompts.JUDGE_SYSTEM_PROMPT), ChatMessage("user", user_turn)]
        parameters = GenerationParameters(
            max_new_tokens=self.max_new_tokens, temperature=0.0, top_p=1.0, json_output=True
        )
        failure, detail = "", ""
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                self.sleep(self.backoff_s * 2 ** (attempt - 2))
            try:
                reply = self.llm.chat(messages, parameters).text
            except LLMError as error:
                failure, detail = f"llm_error:{type(error).__name__}", str(error)
                if not error.retryable:
                    return JudgeOutcome(None, attempt, failure, detail)
                continue
            try:
                return JudgeOutcome(parse_judgement(reply, criteria), attempt)
            except JudgementParseError as error:
                failure, detail = error.reason, str(error)
            correction = prompts.format_judge_correction(detail)
            messages = [*messages[:2], ChatMessage("assistant", reply), ChatMessage("user", correction)]
        return JudgeOutcome(None, self.max_attempts, failure, detail)


def _log_failures(run: JudgeRun) -> None:
    failed = len(run.outcomes) - run.judged
    if failed:
        reasons = ", ".join(f"{reason}={count}" for reason, count in sorted(run.failures.items()))
        logger.warning(
            "Judge {}: {} of {} item(s) not judged ({}); their scores are left empty",
            run.judge_model,
            failed,
            len(run.outcomes),
            reasons,
        )
