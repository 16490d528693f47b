"""A served model switched under a running service gets its own capability decision (and its own verdicts in
memory): one model's probe never stands for another's, and going back asks nothing again."""

from __future__ import annotations

from llm_engineering.application.rag.capabilities import ProbeMemory
from llm_engineering.application.rag.self_query import SelfQuery
from tests.unit.application.rag.fakes import ScriptedLLM
from tests.unit.application.rag.test_capability_memory import BASE_MODEL_REPLIES, MemoryStore


class SwitchableLLM(ScriptedLLM):
    """A client whose model is whatever the served model is now."""

    def __init__(self, *replies: str):
        super().__init__(*replies)
        self.current = "gemma-3-270m-twin"

    @property
    def model_id(self) -> str:
        return self.current


def test_each_served_model_is_probed_once():
    llm = SwitchableLLM(BASE_MODEL_REPLIES[0], BASE_MODEL_REPLIES[0])
    store = MemoryStore()
    memory = ProbeMemory(store, lambda: f"http://llm/v1 {llm.model_id}", model=lambda: llm.model_id)
    capability = SelfQuery(llm, mode="auto", memory=memory).capability

    assert not capability.decide().enabled and len(llm.prompts) == 1
    assert capability.decide() is capability.decide() and len(llm.prompts) == 1  # decided for this model

    llm.current = "llm_twin-v2"  # `poe serve-model --model llm_twin:v2`
    assert not capability.probed
    assert not capability.decide().enabled and len(llm.prompts) == 2  # the twin was probed itself
    assert {key for key, _ in store.verdicts} == {"http://llm/v1 gemma-3-270m-twin", "http://llm/v1 llm_twin-v2"}

    llm.current = "gemma-3-270m-twin"
    assert capability.probed and not capability.decide().enabled and len(llm.prompts) == 2
