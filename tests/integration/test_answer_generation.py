"""Answer generation with a real (tiny, random) model: transformers batches in this process, and the
OpenAI-compatible path against the real local server that serves the same kind of model."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.domain.prompts import INSTRUCTION_HEADER, INSTRUCTION_PREAMBLE, RESPONSE_HEADER
from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient
from llm_engineering.model.evaluation.generation import SamplingConfig, generate_answers
from tests.llm_fixtures import TINY_MODEL_NAME, build_tiny_model

pytestmark = pytest.mark.integration

INSTRUCTIONS = [
    "Write a short post about retrieval-augmented generation.",
    "Explain why chunk size matters, with an example from your notes.",
    "What is a reranker?",
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("answers") / TINY_MODEL_NAME)


def _assert_no_prompt_echo(answers: list[str | None]) -> None:
    for answer in answers:
        assert answer is not None
        assert INSTRUCTION_PREAMBLE not in answer and RESPONSE_HEADER not in answer and INSTRUCTION_HEADER not in answer
        assert not any(instruction in answer for instruction in INSTRUCTIONS)
        assert answer == answer.strip()


def test_transformers_answers_every_instruction_in_order(tiny_model):
    # Batch size 2: the second batch holds one prompt, the first pads the shorter of two on the left.
    sampling = SamplingConfig(max_new_tokens=12, batch_size=2, seed=1)
    run = generate_answers(INSTRUCTIONS, str(tiny_model), "auto", sampling, name="tiny", torch_threads=1)

    assert run.backend == "transformers" and run.model == "tiny" and run.source == str(tiny_model)
    assert [answer.index for answer in run.answers] == [0, 1, 2]
    assert [answer.instruction for answer in run.answers] == INSTRUCTIONS
    assert run.failures == 0
    _assert_no_prompt_echo(run.answers_text())
    assert all(answer.new_tokens is not None and 1 <= answer.new_tokens <= 12 for answer in run.answers)
    assert run.tokens_per_second is not None and run.tokens_per_second > 0
    again = generate_answers(INSTRUCTIONS, str(tiny_model), "transformers", sampling, progress=False)
    assert again.answers_text() == run.answers_text()  # seeded


def test_left_padded_batches_answer_as_single_prompts_do(tiny_model):
    greedy = {"temperature": 0.0, "max_new_tokens": 8}
    batched = generate_answers(
        INSTRUCTIONS, str(tiny_model), "transformers", SamplingConfig(**greedy, batch_size=3), progress=False
    )
    single = generate_answers(
        INSTRUCTIONS, str(tiny_model), "transformers", SamplingConfig(**greedy, batch_size=1), progress=False
    )
    assert batched.answers_text() == single.answers_text()


def test_the_endpoint_answers_through_the_real_server(llm_server):
    client = OpenAICompatibleClient(llm_server["base_url"], llm_server["model_id"])
    sampling = SamplingConfig(max_new_tokens=8)
    run = generate_answers(INSTRUCTIONS, client.model_id, "auto", sampling, llm=client, max_workers=2, progress=False)

    assert run.backend == "openai" and run.source == client.endpoint
    assert [answer.instruction for answer in run.answers] == INSTRUCTIONS
    assert run.failures == 0
    _assert_no_prompt_echo(run.answers_text())
    assert all(answer.new_tokens is not None and 1 <= answer.new_tokens <= 8 for answer in run.answers)


def test_failed_endpoint_calls_are_counted_not_invented(llm_server):
    wrong = OpenAICompatibleClient(llm_server["base_url"], "no-such-model")
    run = generate_answers(INSTRUCTIONS, wrong.model_id, "openai", SamplingConfig(max_new_tokens=4), llm=wrong)

    assert run.failures == 3 and run.answers_text() == [None, None, None]
    assert all("LLMResponseError" in (answer.error or "") for answer in run.answers)
    assert run.tokens_per_second is None
