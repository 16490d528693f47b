"""Structured retrieval steps run only when the model can do them; a skipped step costs no LLM call."""

import time

import pytest

from llm_engineering.application.deadline import Deadline, current_deadline, within
from llm_engineering.application.errors import DeadlineExceededError, LLMUnavailableError
from llm_engineering.application.rag.capabilities import Capability, ProbeMemory, ProbeResult
from llm_engineering.application.rag.query_expansion import QueryExpansion, parse_variants
from llm_engineering.application.rag.self_query import SelfQuery
from llm_engineering.domain.prompts import QUERY_EXPANSION_SEPARATOR
from llm_engineering.domain.queries import Query
from tests.unit.application.rag.fakes import ScriptedLLM

QUESTION = "How does reranking improve a RAG system?"


def test_a_base_model_fails_the_self_query_probe_once_then_costs_no_call():
    llm = ScriptedLLM("### Response")  # what the 270M base model answers
    self_query = SelfQuery(llm, find_user=lambda first, last: None, mode="auto")
    first = self_query.generate(Query.from_str(QUESTION)).metadata["self_query"]
    assert first["status"] == "skipped"
    assert first["reason"].startswith("model failed the capability probe")
    assert len(llm.prompts) == 1  # the probe stopped at the first wrong answer
    again = self_query.generate(Query.from_str("I am Mara Quillon. Write about chunking."))
    assert again.metadata["self_query"]["status"] == "skipped"
    assert len(llm.prompts) == 1


def test_an_instruct_model_passes_the_self_query_probe_and_is_asked():
    llm = ScriptedLLM("none", "Lena Fischer", "Mara Quillon")
    self_query = SelfQuery(llm, find_user=lambda first, last: None, mode="auto")
    report = self_query.generate(Query.from_str("I am Mara Quillon. Write about chunking.")).metadata["self_query"]
    assert report["status"] == "unknown_author"  # asked, answered, but not in the warehouse
    assert len(llm.prompts) == 3 and self_query.capability.probed


def test_a_model_that_copies_names_but_answers_text_otherwise_fails():
    # The 270M base model on llama.cpp: right on the name, text where the answer is "none".
    llm = ScriptedLLM("I am a beginner in the field of database design. I")
    decision = SelfQuery(llm, mode="auto").capability.decide()
    assert not decision.enabled and len(llm.prompts) == 1


def test_probes_are_short_calls():
    llm = ScriptedLLM("none", "Lena Fischer", "What decides how long the chunks of a search index are?")
    assert SelfQuery(llm, mode="auto").capability.decide().enabled
    assert QueryExpansion(llm, mode="auto").capability.decide().enabled
    assert [parameters.max_new_tokens for parameters in llm.parameters] == [8, 8, 32]  # type: ignore[union-attr]


def test_modes_on_and_off_never_probe():
    on = ScriptedLLM("none")
    assert SelfQuery(on, mode="on").generate(Query.from_str(QUESTION)).metadata["self_query"]["status"] == "no_author"
    assert len(on.prompts) == 1
    off = ScriptedLLM()
    report = SelfQuery(off, mode="off").generate(Query.from_str(QUESTION)).metadata["self_query"]
    assert report == {"status": "skipped", "reason": "disabled by configuration"}
    queries, expansion = QueryExpansion(off, mode="off").generate(Query.from_str(QUESTION), 3)
    assert len(queries) == 1 and expansion.reason == "disabled by configuration"
    assert off.prompts == []


def test_expansion_probe_needs_a_usable_rewording():
    good = "What decides the chunk size of a retrieval index?"
    expansion = QueryExpansion(
        ScriptedLLM(
            good,
            f"Why should I rerank retrieved passages? {QUERY_EXPANSION_SEPARATOR} What does a reranker add to retrieval?",
        ),
        mode="auto",
    )
    queries, report = expansion.generate(Query.from_str(QUESTION), 3)
    assert report.status == "expanded" and len(queries) == 3
    weak = QueryExpansion(ScriptedLLM("How do I choose a chunk size for a retrieval system, and"), mode="auto")
    queries, report = weak.generate(Query.from_str(QUESTION), 3)
    assert len(queries) == 1 and report.reason.startswith("model failed the capability probe (0 of 1")


def test_an_unreachable_llm_during_the_probe_is_not_a_verdict_and_is_probed_again_later():
    calls, now = [], [0.0]

    def probe():
        calls.append(1)
        if len(calls) == 1:
            raise LLMUnavailableError("connection refused")
        return ProbeResult(True, "ok")

    capability = Capability("self-query", "auto", probe, retry_after_s=30, clock=lambda: now[0])
    first = capability.decide()
    assert not first.enabled and first.reason.startswith("capability probe failed to reach the LLM")
    now[0] = 29.0
    assert capability.decide() == first and len(calls) == 1  # no probe per request meanwhile
    now[0] = 31.0
    assert capability.decide().enabled and capability.decide().enabled
    assert len(calls) == 2
    with pytest.raises(ValueError):
        Capability("x", "sometimes", probe)  # type: ignore[arg-type]


def test_a_probe_gets_its_own_time_limit_and_a_model_too_slow_for_it_fails():
    calls, saved = [], []

    def slow_probe() -> ProbeResult:
        calls.append(1)
        deadline = current_deadline()
        assert deadline is not None  # the LLM client cuts its timeouts to it and is interrupted by it
        deadline.sleep(60)
        return ProbeResult(True, "never")

    class Store:
        def load(self, model_key, step):  # type: ignore[no-untyped-def]
            return None

        def save(self, model_key, step, verdict):  # type: ignore[no-untyped-def]
            saved.append(verdict)

    memory = ProbeMemory(Store(), lambda: "model")
    capability = Capability("query expansion", "auto", slow_probe, probe_timeout_s=0.2, memory=memory)
    started = time.monotonic()
    decision = capability.decide()
    assert time.monotonic() - started < 5
    assert decision.reason == "model failed the capability probe (no answer within 0.2s: too slow to run per request)"
    assert capability.decide() == decision and len(calls) == 1  # no request pays for the probe again
    assert [verdict.result.passed for verdict in saved] == [False]  # nor the next start


def test_the_callers_own_deadline_ending_is_raised_not_reported():
    def slow_probe() -> ProbeResult:
        current_deadline().sleep(60)  # type: ignore[union-attr]
        return ProbeResult(True, "never")

    capability = Capability("self-query", "auto", slow_probe, probe_timeout_s=30)
    with within(Deadline(0.2)), pytest.raises(DeadlineExceededError):
        capability.decide()
    assert not capability.probed


@pytest.mark.parametrize(
    "variant",
    [
        "What is model merging, and",  # cut off by the token limit
        "How does reranking improve the RAG system?",  # the same question
        "reranking",  # not a question
        "Explain reranking",  # too short to be a request
    ],
)
def test_an_expansion_must_be_a_complete_and_different_question(variant):
    variants, rejected = parse_variants(variant, QUESTION, 1)
    assert variants == [] and rejected
