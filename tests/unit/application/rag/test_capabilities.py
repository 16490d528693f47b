"""Structured retrieval steps run only when the model can do them; a skipped step costs no LLM call."""

import pytest

from llm_engineering.application.errors import LLMUnavailableError
from llm_engineering.application.rag.capabilities import Capability, ProbeResult
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
    llm = ScriptedLLM("Lena Fischer", "none", "Mara Quillon")
    self_query = SelfQuery(llm, find_user=lambda first, last: None, mode="auto")
    report = self_query.generate(Query.from_str("I am Mara Quillon. Write about chunking.")).metadata["self_query"]
    assert report["status"] == "unknown_author"  # asked, answered, but not in the warehouse
    assert len(llm.prompts) == 3 and self_query.capability.probed


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


def test_expansion_probe_needs_two_usable_rewordings():
    good = f"What decides the chunk size of a retrieval index? {QUERY_EXPANSION_SEPARATOR} Which chunk length works best for semantic search?"
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
    assert len(queries) == 1 and report.reason.startswith("model failed the capability probe (0 of 2")


def test_an_unreachable_llm_during_the_probe_is_not_a_verdict():
    calls = []

    def probe():
        calls.append(1)
        if len(calls) == 1:
            raise LLMUnavailableError("connection refused")
        return ProbeResult(True, "ok")

    capability = Capability("self-query", "auto", probe)
    assert not capability.decide().enabled
    assert capability.decide().enabled and capability.decide().enabled
    assert len(calls) == 2
    with pytest.raises(ValueError):
        Capability("x", "sometimes", probe)  # type: ignore[arg-type]


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
