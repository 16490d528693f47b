"""The answering use case: which backend and client a model source gets, and the logged summary."""

from __future__ import annotations

from pathlib import Path

from llm_engineering.application.llm.client import LLMResponse
from llm_engineering.model.evaluation.answering import answer_samples
from llm_engineering.model.evaluation.generation import GeneratedAnswer, GenerationRun, SamplingConfig
from llm_engineering.model.evaluation.model_evaluation import ModelUnderTest
from llm_engineering.model.registry import ModelRegistry

INSTRUCTIONS = ["What is RAG?", "Why rerank?", "fail on this one"]


class EchoLLM:
    """An endpoint client answering `answer:<instruction>`, failing nothing; `model_id` as built."""

    endpoint = "http://fake:8000/v1"

    def __init__(self, model_id: str):
        self.model_id = model_id

    def chat(self, messages, parameters=None) -> LLMResponse:
        return LLMResponse(text=f"answer:{messages[-1].content}", model_id=self.model_id, completion_tokens=2)

    def complete(self, prompt, parameters=None) -> LLMResponse:
        raise AssertionError("answers are chat calls")

    def ping(self) -> None:
        return None


class RecordingGenerate:
    """Stands in for `generate_answers` on a local folder: records the call, answers all but the last."""

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(self, instructions, **kwargs) -> GenerationRun:
        self.calls.append({"instructions": instructions, **kwargs})
        answers = [
            GeneratedAnswer(index=i, instruction=text, answer=None if i == len(instructions) - 1 else "ok")
            for i, text in enumerate(instructions)
        ]
        return GenerationRun(
            model=kwargs["name"],
            source=kwargs["model"],
            backend="transformers",
            sampling=kwargs["sampling"],
            answers=answers,
            seconds=1.26,
        )


def test_an_endpoint_source_is_answered_by_a_client_for_its_model_id(tmp_path: Path):
    asked: list[str | None] = []

    def endpoint_client(model_id):
        asked.append(model_id)
        return EchoLLM(model_id or "configured-model")

    answered = answer_samples(
        INSTRUCTIONS,
        ModelUnderTest(name="twin", source="endpoint:twin-v3"),
        SamplingConfig(temperature=0.0),
        registry=ModelRegistry(tmp_path / "registry"),
        base_model_dir=tmp_path / "base",
        endpoint_client=endpoint_client,
        backend="transformers",  # an endpoint always goes through the client
    )
    assert asked == ["twin-v3"]
    assert answered.run.backend == "openai"
    assert [answer.answer for answer in answered.run.answers] == [f"answer:{text}" for text in INSTRUCTIONS]
    metadata = answered.metadata()
    assert metadata["model"] == "twin"
    assert metadata["source"] == "endpoint:twin-v3"
    assert metadata["backend"] == "openai"
    assert (metadata["answers"], metadata["failures"]) == (3, 0)


def test_the_configured_endpoint_is_asked_for_without_a_model_id(tmp_path: Path):
    asked: list[str | None] = []

    def endpoint_client(model_id):
        asked.append(model_id)
        return EchoLLM("configured-model")

    answered = answer_samples(
        INSTRUCTIONS[:1],
        ModelUnderTest(name="served", source="endpoint"),
        SamplingConfig(),
        registry=ModelRegistry(tmp_path / "registry"),
        base_model_dir=tmp_path / "base",
        endpoint_client=endpoint_client,
    )
    assert asked == [None]
    assert answered.run.model == "served"


def test_the_base_model_is_answered_locally_with_the_requested_backend(tmp_path: Path):
    generate = RecordingGenerate()

    def no_endpoint(model_id):
        raise AssertionError("a local folder needs no endpoint client")

    answered = answer_samples(
        INSTRUCTIONS,
        ModelUnderTest(name="base", source="base"),
        SamplingConfig(),
        registry=ModelRegistry(tmp_path / "registry"),
        base_model_dir=tmp_path / "gemma-base",
        endpoint_client=no_endpoint,
        backend="auto",
        torch_threads=2,
        generate=generate,
    )
    (call,) = generate.calls
    assert call["model"] == str(tmp_path / "gemma-base")
    assert (call["backend"], call["llm"], call["torch_threads"], call["name"]) == ("auto", None, 2, "base")
    assert answered.metadata() == {
        "model": "base",
        "source": "base (gemma-base)",
        "backend": "transformers",
        "answers": 3,
        "failures": 1,
        "seconds": 1.3,
    }
