"""The LLM judge: strict parsing of replies, retries, bounded concurrency, and failures that stay None."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest
from loguru import logger
from pydantic import ValidationError

from llm_engineering.application.errors import JudgementParseError, LLMResponseError, LLMUnavailableError
from llm_engineering.application.evaluation.judge import (
    ANSWER_CRITERIA,
    RAG_CRITERIA,
    AnswerToJudge,
    CriterionScore,
    LLMJudge,
    RAGAnswerToJudge,
    parse_judgement,
)
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters, LLMClient, LLMResponse
from llm_engineering.domain import prompts
from tests.waiting import CEILING_S


def verdict_json(accuracy: object = 3, style: object = 2, justification: object = "Clear and correct.") -> str:
    return json.dumps(
        {
            "accuracy": {"score": accuracy, "justification": justification},
            "style": {"score": style, "justification": justification},
        }
    )


Reply = str | Exception


class ScriptedLLM:
    """An `LLMClient` whose replies come from `respond(messages, call_number)`; records every call."""

    model_id = "fake-judge"
    endpoint = "memory://judge"

    def __init__(self, respond: Callable[[list[ChatMessage], int], Reply]):
        self.respond = respond
        self.calls: list[tuple[list[ChatMessage], GenerationParameters | None]] = []
        self._lock = threading.Lock()

    def chat(self, messages: list[ChatMessage], parameters: GenerationParameters | None = None) -> LLMResponse:
        with self._lock:
            self.calls.append((list(messages), parameters))
            number = len(self.calls)
        reply = self.respond(messages, number)
        if isinstance(reply, Exception):
            raise reply
        return LLMResponse(text=reply, model_id=self.model_id)

    def complete(self, prompt: str, parameters: GenerationParameters | None = None) -> LLMResponse:
        raise AssertionError("the judge only chats")

    def ping(self) -> None:
        return None


def judge(llm: LLMClient, **kwargs) -> tuple[LLMJudge, list[float]]:
    waits: list[float] = []
    defaults = {"max_workers": 1, "max_attempts": 3, "backoff_s": 0.5, "progress": False, "sleep": waits.append}
    return LLMJudge(llm, **{**defaults, **kwargs}), waits


ITEMS = [AnswerToJudge("Explain RAG.", "RAG retrieves passages first."), AnswerToJudge("Why rerank?", "Precision.")]


@pytest.fixture
def warnings() -> list[str]:
    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(str(message)), level="WARNING", format="{message}")
    yield messages
    logger.remove(sink)


# --- Parsing ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "reply",
    [
        verdict_json(),
        f"```json\n{verdict_json()}\n```",
        f"Here is my evaluation:\n{verdict_json()}\nI hope this helps {{really}}.",
        "Scores {as asked}: " + verdict_json().replace('"accuracy"', '"Accuracy"'),
        verdict_json()[:-1] + ', "overall": "fine"}',
    ],
    ids=["bare", "fenced", "prose-around", "other-braces-and-case", "extra-key"],
)
def test_a_verdict_is_found_whatever_surrounds_it(reply):
    verdict = parse_judgement(reply, ANSWER_CRITERIA)
    assert verdict.score("accuracy") == 3 and verdict.score("style") == 2
    assert verdict.justification("style") == "Clear and correct."


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("The answer is good, 3 out of 3.", "no_json"),
        ("", "no_json"),
        ('{"accuracy": {"score": 3, "justification": "ok"}, "style": ', "invalid_json"),
        ("{accuracy: 3, style: 2}", "invalid_json"),
        ('{"accuracy": {"score": 3, "justification": "ok"}}', "missing_criterion"),
        ('{"verdict": "good"}', "missing_criterion"),
        (verdict_json(accuracy=0), "out_of_range"),
        (verdict_json(style=4), "out_of_range"),
        (verdict_json(accuracy="high"), "bad_type"),
        (verdict_json(accuracy=2.5), "bad_type"),
        (verdict_json(accuracy=2.0), "bad_type"),
        (verdict_json(accuracy="2"), "bad_type"),
        (verdict_json(accuracy=True), "bad_type"),
        (verdict_json(accuracy=None), "bad_type"),
        ('{"accuracy": 3, "style": 2}', "bad_type"),
        (verdict_json(justification=7), "bad_type"),
        (verdict_json(justification=""), "empty_justification"),
        (verdict_json(justification="   "), "empty_justification"),
        ('{"accuracy": {"score": 3}, "style": {"score": 2}}', "empty_justification"),
        (
            '{"accuracy": {"score": N, "justification": "..."}, "style": {"score": N, "justification": "..."}}',
            "invalid_json",
        ),
    ],
)
def test_an_unusable_reply_raises_with_its_reason(reply, reason):
    with pytest.raises(JudgementParseError) as raised:
        parse_judgement(reply, ANSWER_CRITERIA)
    assert raised.value.reason == reason


def test_rag_criteria_are_parsed_by_name():
    reply = '{"faithfulness": {"score": 1, "justification": "Invented."}, "relevance": {"score": 3, "justification": "On topic."}}'
    verdict = parse_judgement(reply, RAG_CRITERIA)
    assert (verdict.score("faithfulness"), verdict.score("relevance")) == (1, 3)
    with pytest.raises(JudgementParseError, match="faithfulness"):
        parse_judgement(verdict_json(), RAG_CRITERIA)


def test_the_verdict_model_itself_refuses_what_the_parser_refuses():
    with pytest.raises(ValidationError):
        CriterionScore(score=4, justification="x")
    with pytest.raises(ValidationError):
        CriterionScore(score="2", justification="x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        CriterionScore(score=2, justification=" ")
    with pytest.raises(ValueError, match="unknown"):
        JudgementParseError("weird", "x")


# --- Prompts ---------------------------------------------------------------------------------------------
def test_answer_prompt_carries_the_reference_only_when_given():
    with_reference = prompts.format_answer_judge_prompt(" Explain {RAG} ", "An answer.", "The author's answer.")
    without = prompts.format_answer_judge_prompt("Explain {RAG}", "An answer.")
    assert "Explain {RAG}" in with_reference and "The author's answer." in with_reference
    assert "author's own answer" not in without
    for text in (with_reference, without):
        assert '"accuracy": {"score": N, "justification": "..."}' in text and '"style"' in text


def test_rag_prompt_numbers_the_passages():
    text = prompts.format_rag_judge_prompt("What is BM25?", ("Keyword ranking.", "Uses term frequency."), "It ranks.")
    assert "[1] Keyword ranking.\n\n[2] Uses term frequency." in text
    assert '"faithfulness"' in text and '"relevance"' in text
    assert "(no passages were retrieved)" in prompts.format_rag_judge_prompt("q", [], "a")
    assert "plain context" in prompts.format_rag_judge_prompt("q", "plain context", "a")


# --- The judge -------------------------------------------------------------------------------------------
def test_a_judged_run_has_scores_aligned_with_the_items():
    llm = ScriptedLLM(lambda messages, n: verdict_json(accuracy=3, style=2))
    run = judge(llm)[0].judge_answers(ITEMS)
    assert run.judged == 2 and not run.failures
    assert run.scores("accuracy") == [3, 3] and run.scores("style") == [2, 2]
    assert run.justifications("style") == ["Clear and correct.", "Clear and correct."]
    assert run.judge_model == "fake-judge" and run.criteria == ANSWER_CRITERIA
    messages, parameters = llm.calls[0]
    assert [m.role for m in messages] == ["system", "user"] and "Explain RAG." in messages[1].content
    assert parameters is not None and parameters.temperature == 0.0 and parameters.json_output
    assert run.as_metadata() == {
        "judge_model": "fake-judge",
        "criteria": ["accuracy", "style"],
        "num_items": 2,
        "num_judged": 2,
        "failures": {},
        "attempts": 2,
    }
    with pytest.raises(KeyError, match="faithfulness"):
        run.scores("faithfulness")


def test_an_unusable_reply_is_retried_with_a_correction_then_accepted():
    llm = ScriptedLLM(lambda messages, n: "I think it is great!" if n == 1 else verdict_json(accuracy=1))
    the_judge, waits = judge(llm)
    run = the_judge.judge_answers(ITEMS[:1])
    assert run.scores("accuracy") == [1] and run.outcomes[0].attempts == 2 and run.outcomes[0].failure is None
    assert waits == [0.5]
    retry_messages = llm.calls[1][0]
    assert [m.role for m in retry_messages] == ["system", "user", "assistant", "user"]
    assert retry_messages[2].content == "I think it is great!" and "JSON object" in retry_messages[3].content


def test_a_persistently_unusable_reply_is_counted_by_reason_and_never_scored(warnings):
    llm = ScriptedLLM(lambda messages, n: verdict_json(accuracy=5))
    the_judge, waits = judge(llm, max_attempts=3)
    run = the_judge.judge_answers(ITEMS)
    assert run.scores("accuracy") == [None, None] and run.scores("style") == [None, None]
    assert run.judged == 0 and run.failures == {"out_of_range": 2}
    assert [outcome.attempts for outcome in run.outcomes] == [3, 3] and len(llm.calls) == 6
    assert "outside 1-3" in run.outcomes[0].detail
    assert waits == [0.5, 1.0, 0.5, 1.0]
    assert any("2 of 2 item(s) not judged (out_of_range=2)" in message for message in warnings)


def test_call_errors_are_retried_when_retryable_and_counted():
    def respond(messages: list[ChatMessage], n: int) -> Reply:
        if "Explain RAG." in messages[1].content:
            return LLMUnavailableError("server down")
        return LLMResponseError("bad request", status_code=400)

    llm = ScriptedLLM(respond)
    run = judge(llm, max_attempts=2)[0].judge_answers(ITEMS)
    assert run.failures == {"llm_error:LLMUnavailableError": 1, "llm_error:LLMResponseError": 1}
    assert [outcome.attempts for outcome in run.outcomes] == [2, 1]  # a 400 will not change on retry
    assert run.scores("style") == [None, None] and run.outcomes[0].detail == "server down"


def test_a_call_error_then_a_verdict_is_a_judged_item():
    llm = ScriptedLLM(lambda messages, n: LLMUnavailableError("busy") if n == 1 else verdict_json())
    run = judge(llm)[0].judge_answers(ITEMS[:1])
    assert run.judged == 1 and run.outcomes[0].attempts == 2
    assert [m.role for m in llm.calls[1][0]] == ["system", "user"]  # nothing to correct after a failed call


def test_rag_answers_are_judged_on_faithfulness_and_relevance():
    reply = '{"faithfulness": {"score": 2, "justification": "One detail unsupported."}, "relevance": {"score": 3, "justification": "Direct."}}'
    llm = ScriptedLLM(lambda messages, n: reply)
    items = [RAGAnswerToJudge("What is BM25?", ("BM25 ranks by keywords.",), "A keyword ranking.")]
    run = judge(llm)[0].judge_rag(items)
    assert run.criteria == RAG_CRITERIA and run.scores("faithfulness") == [2] and run.scores("relevance") == [3]
    assert "[1] BM25 ranks by keywords." in llm.calls[0][0][1].content


def test_concurrent_judging_keeps_the_input_order():
    # Item i answers only after item i+1 has: completion order is the reverse of the input order.
    count = 5
    done = [threading.Event() for _ in range(count)]

    def respond(messages: list[ChatMessage], n: int) -> Reply:
        index = int(messages[1].content.split("Request:\n")[1].split(" ", 1)[0])
        if index + 1 < count:
            assert done[index + 1].wait(timeout=CEILING_S)
        done[index].set()
        return verdict_json(accuracy=index % 3 + 1, style=(index + 1) % 3 + 1)

    items = [AnswerToJudge(f"{index} tell me", "answer") for index in range(count)]
    run = judge(ScriptedLLM(respond), max_workers=count)[0].judge_answers(items)
    assert run.scores("accuracy") == [index % 3 + 1 for index in range(count)]
    assert run.scores("style") == [(index + 1) % 3 + 1 for index in range(count)]


def test_no_more_than_max_workers_calls_run_at_once():
    workers = 3
    barrier = threading.Barrier(workers, timeout=CEILING_S)  # passes only when exactly `workers` calls overlap
    lock = threading.Lock()
    active, peak = 0, 0

    def respond(messages: list[ChatMessage], n: int) -> Reply:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        barrier.wait()
        with lock:
            active -= 1
        return verdict_json()

    items = [AnswerToJudge(f"request {index}", "answer") for index in range(workers * 3)]
    run = judge(ScriptedLLM(respond), max_workers=workers)[0].judge_answers(items)
    assert run.judged == len(items) and peak == workers


def test_an_empty_batch_and_invalid_limits():
    run = judge(ScriptedLLM(lambda messages, n: verdict_json()))[0].judge_answers([])
    assert run.outcomes == () and run.scores("accuracy") == [] and run.judged == 0
    for bad in ({"max_workers": 0}, {"max_attempts": 0}, {"backoff_s": -1}):
        with pytest.raises(ValueError):
            LLMJudge(ScriptedLLM(lambda messages, n: ""), **bad)
