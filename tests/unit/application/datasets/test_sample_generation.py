"""The generation stage's use case: which model writes, the offline fallback to templates, the metadata."""

from __future__ import annotations

import json

import pytest

from llm_engineering.application.datasets.sample_generation import GenerationOptions, generate_samples
from llm_engineering.application.datasets.service import DatasetPrompts, ExtractSpan, SourceDocumentRecord
from llm_engineering.application.errors import DatasetGenerationError, LLMUnavailableError
from llm_engineering.application.llm.client import LLMResponse
from llm_engineering.domain.datasets import DatasetType
from llm_engineering.domain.types import DataCategory

TEXT = (
    "Chunk along headings so each chunk keeps one idea. Then embed the chunks and store them with their "
    "metadata for filtering. Retrieval stays precise when every chunk carries its section title."
)


class FakeLLM:
    """An LLM client whose every chat reply is `reply`; `ping` raises `ping_error` when set."""

    def __init__(self, reply: str = "", model_id: str = "fake-model", ping_error: Exception | None = None):
        self.reply, self._model_id, self.ping_error = reply, model_id, ping_error
        self.chats = 0

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def endpoint(self) -> str:
        return "fake://llm"

    def chat(self, messages, parameters=None) -> LLMResponse:
        self.chats += 1
        return LLMResponse(text=self.reply, model_id=self._model_id)

    def complete(self, prompt, parameters=None) -> LLMResponse:
        return self.chat([], parameters)

    def ping(self) -> None:
        if self.ping_error is not None:
            raise self.ping_error


def prompts(mode: str, dataset_type: DatasetType = DatasetType.INSTRUCTION) -> DatasetPrompts:
    documents = [
        SourceDocumentRecord(id="post-1", category=DataCategory.POSTS, content=TEXT, title="Chunking"),
        SourceDocumentRecord(id="article-1", category=DataCategory.ARTICLES, content=TEXT, title="Retrieval"),
    ]
    spans = [ExtractSpan(document=index, start=0, end=len(TEXT)) for index in range(len(documents))]
    return DatasetPrompts(dataset_type=dataset_type, mode=mode, documents=documents, spans=spans)


def unexpected():
    raise AssertionError("this model must not be asked for in this mode")


def test_teacher_mode_asks_the_teacher_and_groups_samples_by_category():
    reply = json.dumps({"instruction_answer_pairs": [{"instruction": "How should I chunk my notes?", "answer": TEXT}]})
    teacher = FakeLLM(reply, model_id="teacher-model")
    generated = generate_samples(
        prompts("teacher"), GenerationOptions(max_workers=1, samples_per_extract=1), lambda: teacher, unexpected
    )
    assert teacher.chats == 2
    assert generated.samples.counts() == {"articles": 1, "posts": 1}
    metadata = generated.metadata()
    assert metadata["mode"] == "teacher"
    assert metadata["model_id"] == "teacher-model"
    assert metadata["num_samples"] == 2
    assert metadata["num_requests"] == 2
    assert metadata["num_samples_per_category"] == {"articles": 1, "posts": 1}


def test_teacher_mode_without_a_teacher_is_a_generation_error():
    with pytest.raises(DatasetGenerationError, match="no teacher"):
        generate_samples(prompts("teacher"), GenerationOptions(), lambda: None, unexpected)


def test_offline_mode_falls_back_to_templates_when_the_local_llm_does_not_answer():
    local = FakeLLM("What is chunking?", ping_error=LLMUnavailableError("connection refused"))
    generated = generate_samples(prompts("offline"), GenerationOptions(seed=1), unexpected, lambda: local)
    assert local.chats == 0  # unreachable: every instruction comes from a template
    metadata = generated.metadata()
    assert metadata["mode"] == "offline"
    assert metadata["model_id"] is None
    assert metadata["num_requests"] == 0
    assert set(metadata["instruction_sources"]) <= {"template"}
    assert generated.samples.num_samples == metadata["num_samples"]


def test_offline_mode_uses_the_local_llm_within_its_call_budget():
    local = FakeLLM("How should chunks be cut so each one keeps a single idea?", model_id="local-model")
    options = GenerationOptions(max_llm_calls=1, seed=1)
    generated = generate_samples(prompts("offline"), options, unexpected, lambda: local)
    assert generated.report.model_id == "local-model"
    assert local.chats <= 1
    assert generated.report.requests <= 1
