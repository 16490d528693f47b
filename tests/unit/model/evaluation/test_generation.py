"""Answer generation without a model: sampling config, stop-sequence cutting, backend choice, the vLLM
parameter mapping (a fake `vllm` module) and the endpoint path (a fake LLM client)."""

from __future__ import annotations

import random
import sys
import threading
import time
import types

import pytest
import yaml
from pydantic import ValidationError

from llm_engineering.application.errors import LLMResponseError, LLMUnavailableError
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters, LLMResponse
from llm_engineering.domain.prompts import STOP_SEQUENCES, format_instruction_prompt
from llm_engineering.model.errors import EvaluationError, GenerationError
from llm_engineering.model.evaluation import local_generation
from llm_engineering.model.evaluation.generation import (
    GenerationRun,
    SamplingConfig,
    choose_backend,
    cut_at_stop_sequences,
    generate_answers,
)
from llm_engineering.model.finetuning import backends
from tests.conftest import PROJECT_ROOT


# --- Sampling config -------------------------------------------------------------------------------------
def test_sampling_defaults_are_the_books():
    config = SamplingConfig()
    assert (config.temperature, config.top_p, config.min_p, config.max_new_tokens) == (0.8, 0.95, 0.05, 2048)
    assert (config.seed, config.batch_size) == (0, 8)


@pytest.mark.parametrize(
    "field, value",
    [
        ("temperature", -0.1),
        ("temperature", 2.5),
        ("top_p", 0.0),
        ("top_p", 1.1),
        ("min_p", -0.01),
        ("min_p", 1.0),
        ("max_new_tokens", 0),
        ("seed", -1),
        ("batch_size", 0),
    ],
)
def test_sampling_rejects_values_out_of_range(field, value):
    with pytest.raises(ValidationError, match=field):
        SamplingConfig(**{field: value})


def test_sampling_rejects_unknown_keys_and_reads_the_pipeline_config():
    with pytest.raises(ValidationError, match="max_tokens"):
        SamplingConfig.model_validate({"max_tokens": 10})
    parameters = yaml.safe_load((PROJECT_ROOT / "configs" / "evaluating.yaml").read_text())["parameters"]
    assert SamplingConfig.model_validate(parameters["sampling"]).top_p == 0.95


# --- Stop sequences ----------------------------------------------------------------------------------------
def test_an_answer_is_cut_at_the_first_stop_sequence_and_stripped():
    text = "  The answer.\n### Response:\nmore\n### Instruction:\nnext  "
    assert cut_at_stop_sequences(text) == "The answer."
    assert cut_at_stop_sequences(" plain answer \n") == "plain answer"
    assert cut_at_stop_sequences("\n### Instruction:\nonly a new block") == ""
    assert cut_at_stop_sequences("a STOP b", stops=("STOP", "")) == "a"


def test_generated_ids_end_at_eos_or_before_trailing_padding():
    assert local_generation._generated_ids([5, 6, 2, 0, 0], eos_ids={2}, pad_id=0) == [5, 6, 2]
    assert local_generation._generated_ids([5, 0, 6, 0, 0], eos_ids={2}, pad_id=0) == [5, 0, 6]
    assert local_generation._generated_ids([2, 2, 2], eos_ids={2}, pad_id=2) == [2]


# --- Backend choice ------------------------------------------------------------------------------------------
class FakeLLM:
    """An LLMClient that answers `answer:<instruction>` after a random delay and fails on instructions
    containing 'fail'; records every call."""

    def __init__(self, failing: str = "fail"):
        self.failing = failing
        self.calls: list[tuple[list[ChatMessage], GenerationParameters | None]] = []
        self.lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return "twin-served"

    @property
    def endpoint(self) -> str:
        return "http://fake:8000/v1"

    def chat(self, messages: list[ChatMessage], parameters: GenerationParameters | None = None) -> LLMResponse:
        with self.lock:
            self.calls.append((messages, parameters))
        time.sleep(random.uniform(0, 0.02))  # finish out of order
        instruction = messages[-1].content
        if self.failing in instruction:
            raise LLMResponseError("HTTP 400: bad request", status_code=400)
        if "down" in instruction:
            raise LLMUnavailableError("server unreachable")
        return LLMResponse(
            text=f" answer:{instruction}\n### Instruction:\nrun-on", model_id=self.model_id, completion_tokens=3
        )

    def complete(self, prompt: str, parameters: GenerationParameters | None = None) -> LLMResponse:
        raise AssertionError("answers are chat calls")

    def ping(self) -> None:
        return None


@pytest.fixture
def no_vllm(monkeypatch):
    monkeypatch.setattr(local_generation, "vllm_importable", lambda: False)


@pytest.fixture
def gpu_vllm(monkeypatch):
    monkeypatch.setattr(local_generation, "vllm_importable", lambda: True)
    monkeypatch.setattr(backends, "cuda_available", lambda: True)


def test_auto_uses_transformers_for_a_local_folder_without_vllm(no_vllm, tmp_path):
    assert choose_backend(str(tmp_path), "auto", None) == "transformers"
    assert choose_backend(str(tmp_path), "auto", FakeLLM()) == "transformers"


def test_auto_uses_vllm_for_a_local_folder_on_a_gpu(gpu_vllm, tmp_path):
    assert choose_backend(str(tmp_path), "auto", None) == "vllm"


def test_auto_skips_vllm_without_cuda(monkeypatch, tmp_path):
    monkeypatch.setattr(local_generation, "vllm_importable", lambda: True)
    monkeypatch.setattr(backends, "cuda_available", lambda: False)
    assert choose_backend(str(tmp_path), "auto", None) == "transformers"


def test_auto_uses_the_endpoint_for_a_model_id_with_a_client(gpu_vllm):
    assert choose_backend("twin-served", "auto", FakeLLM()) == "openai"
    assert choose_backend("org/hub-model", "auto", None) == "vllm"


def test_auto_without_any_usable_backend_is_a_clear_error(no_vllm, tmp_path):
    with pytest.raises(GenerationError, match="not a local model folder") as raised:
        choose_backend(str(tmp_path / "missing"), "auto", None)
    assert isinstance(raised.value, EvaluationError)


def test_an_explicit_backend_that_cannot_run_is_an_error(no_vllm, tmp_path):
    with pytest.raises(GenerationError, match="local model folder"):
        choose_backend(str(tmp_path / "missing"), "transformers", None)
    with pytest.raises(GenerationError, match="import vllm"):
        choose_backend(str(tmp_path), "vllm", None)
    with pytest.raises(GenerationError, match="LLM client"):
        choose_backend("twin-served", "openai", None)
    assert choose_backend(str(tmp_path), "openai", FakeLLM()) == "openai"


def test_no_instructions_or_a_blank_one_is_an_error(tmp_path):
    with pytest.raises(GenerationError, match="No instructions"):
        generate_answers([], str(tmp_path), "auto", SamplingConfig())
    with pytest.raises(GenerationError, match=r"\[1\]"):
        generate_answers(["ok", "  "], "twin", "openai", SamplingConfig(), llm=FakeLLM())


def test_a_missing_model_folder_is_an_error(tmp_path):
    with pytest.raises(GenerationError, match="does not exist"):
        local_generation.transformers_completions(str(tmp_path / "missing"), ["hi"], SamplingConfig(), None, False)


# --- vLLM (a fake module: vLLM is never installed here) -------------------------------------------------------
@pytest.fixture
def fake_vllm(monkeypatch):
    recorded: dict = {"engines": []}

    class SamplingParams:
        def __init__(self, **kwargs):
            recorded["params"] = kwargs

    class LLM:
        def __init__(self, **kwargs):
            recorded["engines"].append(kwargs)

        def generate(self, prompts, params, use_tqdm=True):
            recorded["prompts"], recorded["use_tqdm"] = prompts, use_tqdm
            return [
                types.SimpleNamespace(
                    outputs=[types.SimpleNamespace(text=f" said {number}\n### Input:\nx", token_ids=[7] * (number + 1))]
                )
                for number in range(len(prompts))
            ]

    module = types.ModuleType("vllm")
    module.LLM, module.SamplingParams = LLM, SamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr(backends, "cuda_available", lambda: True)
    return recorded


def test_vllm_gets_the_books_sampling_and_the_training_prompts(fake_vllm, tmp_path):
    sampling = SamplingConfig(seed=3)
    run = generate_answers(["first", "second"], str(tmp_path), "auto", sampling, name="sft", progress=False)

    assert run.backend == "vllm" and run.model == "sft" and run.source == str(tmp_path)
    assert fake_vllm["engines"] == [{"model": str(tmp_path), "seed": 3}]
    assert fake_vllm["params"] == {
        "temperature": 0.8,
        "top_p": 0.95,
        "min_p": 0.05,
        "max_tokens": 2048,
        "seed": 3,
        "stop": list(STOP_SEQUENCES),
    }
    assert fake_vllm["prompts"] == [format_instruction_prompt("first"), format_instruction_prompt("second")]
    assert fake_vllm["use_tqdm"] is False
    assert run.answers_text() == ["said 0", "said 1"]
    assert [answer.new_tokens for answer in run.answers] == [1, 2]
    assert run.tokens_per_second is not None and run.tokens_per_second > 0


# --- OpenAI-compatible endpoint ------------------------------------------------------------------------------
def test_the_endpoint_answers_in_input_order_and_counts_failures_without_inventing_text():
    llm = FakeLLM()
    instructions = [f"question {number}" for number in range(12)]
    instructions[3], instructions[8] = "please fail", "server down"
    sampling = SamplingConfig(temperature=0.5, top_p=0.9, max_new_tokens=64)

    run = generate_answers(instructions, llm.model_id, "auto", sampling, llm=llm, max_workers=4, progress=False)

    assert run.backend == "openai" and run.source == llm.endpoint and run.model == "twin-served"
    assert [answer.index for answer in run.answers] == list(range(12))
    assert [answer.instruction for answer in run.answers] == instructions
    texts = run.answers_text()
    assert texts[3] is None and texts[8] is None
    assert all(texts[i] == f"answer:{instructions[i]}" for i in range(12) if i not in (3, 8))
    assert run.failures == 2
    assert "LLMResponseError" in (run.answers[3].error or "")
    assert "LLMUnavailableError" in (run.answers[8].error or "")
    assert run.answers[3].new_tokens is None and run.answers[0].new_tokens == 3
    assert len(llm.calls) == 12


def test_the_endpoint_gets_one_user_message_and_the_supported_sampling():
    llm = FakeLLM()
    generate_answers(["Write about RAG."], "twin", "openai", SamplingConfig(max_new_tokens=99), llm=llm, progress=False)
    [(messages, parameters)] = llm.calls
    assert messages == [ChatMessage("user", "Write about RAG.")]
    assert parameters is not None
    assert (parameters.temperature, parameters.top_p, parameters.max_new_tokens) == (0.8, 0.95, 99)
    assert parameters.stop == STOP_SEQUENCES


def test_a_run_serialises_whole_and_back():
    run = generate_answers(["a", "fail b"], "twin", "openai", SamplingConfig(), llm=FakeLLM(), progress=False)
    again = GenerationRun.model_validate_json(run.model_dump_json())
    assert again == run
    assert again.failures == 1 and again.answers_text() == ["answer:a", None]


def test_only_llm_errors_become_failed_answers():
    class Broken(FakeLLM):
        def chat(self, messages, parameters=None):
            raise RuntimeError("a bug, not a failed call")

    with pytest.raises(RuntimeError, match="a bug"):
        generate_answers(["a"], "twin", "openai", SamplingConfig(), llm=Broken(), progress=False)


def test_the_transformers_options_map_the_sampling():
    tokenizer = types.SimpleNamespace(pad_token_id=0)
    sampled = local_generation._generate_options(SamplingConfig(), tokenizer, {2})
    assert sampled["do_sample"] is True
    assert (sampled["temperature"], sampled["top_p"], sampled["min_p"], sampled["top_k"]) == (0.8, 0.95, 0.05, 0)
    assert sampled["stop_strings"] == list(STOP_SEQUENCES) and sampled["eos_token_id"] == [2]
    greedy = local_generation._generate_options(SamplingConfig(temperature=0), tokenizer, {2})
    assert greedy["do_sample"] is False and "temperature" not in greedy
