import pytest

from llm_engineering.application.llm.client import GenerationParameters, LLMResponse


@pytest.mark.parametrize(
    "changes",
    [{"max_new_tokens": 0}, {"temperature": 2.5}, {"top_p": 0}, {"top_p": 1.5}, {"repetition_penalty": 0}],
)
def test_invalid_parameters_are_rejected(changes):
    with pytest.raises(ValueError):
        GenerationParameters(**changes)


def test_merged_ignores_none_and_keeps_the_rest():
    base = GenerationParameters(max_new_tokens=100, temperature=0.5)
    merged = base.merged(max_new_tokens=20, temperature=None)
    assert (merged.max_new_tokens, merged.temperature, merged.top_p) == (20, 0.5, base.top_p)


def test_total_tokens_needs_both_counts():
    assert LLMResponse(text="x", model_id="m", prompt_tokens=3, completion_tokens=4).total_tokens == 7
    assert LLMResponse(text="x", model_id="m", completion_tokens=4).total_tokens is None
