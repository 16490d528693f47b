"""Probe verdicts are remembered per model: a restart on the same model makes no probe call, another model
(or another probe, or a forced re-probe) is probed again."""

from __future__ import annotations

from llm_engineering.application.errors import LLMUnavailableError
from llm_engineering.application.rag.capabilities import ProbeMemory, Verdict
from llm_engineering.application.rag.query_expansion import QueryExpansion
from llm_engineering.application.rag.self_query import SelfQuery
from tests.unit.application.rag.fakes import ScriptedLLM

BASE_MODEL_REPLIES = ("I am Lena Fischer. I am a student at the", "The first way is to use a chunk size of")


class MemoryStore:
    """An in-memory `VerdictStore` that counts its reads and writes."""

    def __init__(self) -> None:
        self.verdicts: dict[tuple[str, str], Verdict] = {}
        self.saves = 0

    def load(self, model_key: str, step: str) -> Verdict | None:
        return self.verdicts.get((model_key, step))

    def save(self, model_key: str, step: str, verdict: Verdict) -> None:
        self.saves += 1
        self.verdicts[(model_key, step)] = verdict


def start(llm: ScriptedLLM, store: MemoryStore, key: str = "http://llm/v1 twin files:abc", **options) -> dict:
    """What a service start does: build both steps on the LLM and decide them (the API's warm-up)."""
    memory = ProbeMemory(store, lambda: key, **options)
    steps = {
        "self_query": SelfQuery(llm, mode="auto", memory=memory).capability,
        "query_expansion": QueryExpansion(llm, mode="auto", memory=memory).capability,
    }
    return {name: capability.decide() for name, capability in steps.items()}


def test_a_second_start_on_the_same_model_makes_no_probe_call():
    store = MemoryStore()
    first_llm = ScriptedLLM(*BASE_MODEL_REPLIES)
    first = start(first_llm, store)
    assert len(first_llm.prompts) == 2 and store.saves == 2  # one call per step (the first answer is wrong)
    assert not any(decision.enabled for decision in first.values())

    second_llm = ScriptedLLM()  # any call would fail: it has no reply to give
    second = start(second_llm, store)
    assert second_llm.prompts == []
    assert [decision.enabled for decision in second.values()] == [False, False]
    assert all("model failed the capability probe" in decision.reason for decision in second.values())
    assert all("; cached " in decision.reason for decision in second.values())


def test_another_model_key_a_forced_reprobe_or_a_changed_probe_probes_again():
    store = MemoryStore()
    start(ScriptedLLM(*BASE_MODEL_REPLIES), store, key="http://llm/v1 twin files:abc")

    retrained = ScriptedLLM("none", "Lena Fischer", "What decides how long the chunks of a search index are?")
    decisions = start(retrained, store, key="http://llm/v1 twin files:def")  # the weights changed
    assert len(retrained.prompts) == 3 and all(decision.enabled for decision in decisions.values())

    forced = ScriptedLLM(*BASE_MODEL_REPLIES)
    start(forced, store, key="http://llm/v1 twin files:def", reprobe=True)
    assert len(forced.prompts) == 2
    assert not any(verdict.result.passed for key, verdict in store.verdicts.items() if key[0].endswith("def"))

    # A verdict given by another probe (other prompt or parameters) is not this probe's verdict.
    for (key, step), verdict in list(store.verdicts.items()):
        store.verdicts[(key, step)] = Verdict("older-probe", verdict.result, verdict.probed_at)
    again = ScriptedLLM(*BASE_MODEL_REPLIES)
    start(again, store, key="http://llm/v1 twin files:def")
    assert len(again.prompts) == 2


def test_a_model_key_that_cannot_be_worked_out_is_no_verdict():
    store, asked = MemoryStore(), []

    def unreachable_key() -> str:
        asked.append(1)
        raise LLMUnavailableError("connection refused")

    llm = ScriptedLLM()
    capability = SelfQuery(llm, mode="auto", memory=ProbeMemory(store, unreachable_key)).capability
    decision = capability.decide()
    assert not decision.enabled and decision.reason.startswith("capability probe failed to reach the LLM")
    assert llm.prompts == [] and store.saves == 0 and not capability.probed
