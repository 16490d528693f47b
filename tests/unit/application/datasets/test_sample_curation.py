"""The curation stage's use case: filter overrides, the judge only with a teacher, the logged summary."""

from __future__ import annotations

from llm_engineering.application.datasets.sample_curation import curate_generated_samples, curation_options
from llm_engineering.application.llm.client import LLMResponse
from llm_engineering.domain.datasets import DatasetSamples, DatasetType, InstructDatasetSample, Provenance
from llm_engineering.domain.types import DataCategory

ANSWER = (
    "Retrieval augmented generation keeps a language model honest by grounding each answer in passages "
    "fetched from a vector database at query time. The pipeline cleans the raw documents, splits them into "
    "chunks along headings, embeds every chunk and stores the vectors next to their metadata."
)
OTHER = (
    "Supervised fine tuning teaches a base model to follow instructions by showing it thousands of pairs of a "
    "request and a good reply. Low rank adapters train a small number of extra weights instead of the whole "
    "network, so a single graphics card is enough for a model of eight billion parameters."
)


def sample(instruction: str, answer: str, doc: str) -> InstructDatasetSample:
    return InstructDatasetSample(instruction=instruction, answer=answer, provenance=Provenance(document_id=doc))


def samples() -> DatasetSamples:
    return DatasetSamples.from_samples(
        DatasetType.INSTRUCTION,
        [
            sample("What does a retrieval pipeline do at query time?", ANSWER, "post-1"),
            sample("What does a retrieval pipeline do at query time?", ANSWER, "post-2"),  # exact duplicate
            sample("How does fine tuning with adapters work?", OTHER, "article-1"),
            sample("Chunk?", OTHER, "article-2"),  # instruction too short
        ],
        {"post-1": DataCategory.POSTS, "post-2": DataCategory.POSTS, "article-1": DataCategory.ARTICLES},
    )


class FakeTeacher:
    """Scores every sample with `score` (the judge's 1-4 scale)."""

    def __init__(self, score: int):
        self.score = score
        self.calls = 0

    model_id = "teacher"
    endpoint = "fake://teacher"

    def chat(self, messages, parameters=None) -> LLMResponse:
        self.calls += 1
        return LLMResponse(text=f"Score: {self.score}", model_id=self.model_id)

    def complete(self, prompt, parameters=None) -> LLMResponse:
        return self.chat([], parameters)

    def ping(self) -> None:
        return None


def test_filters_from_yaml_lists_become_tuples_over_the_dataset_defaults():
    options = curation_options(samples(), {"min_answer_chars": 10, "refusal_phrases": ["nope"]}, 0.9, 4)
    assert options.filters.min_answer_chars == 10
    assert options.filters.refusal_phrases == ("nope",)
    assert options.near_duplicate_threshold == 0.9
    assert options.judge_min_score == 4


def test_curation_keeps_categories_and_summarises_each_step():
    def no_teacher_wanted():
        raise AssertionError("the teacher is asked for only with use_judge")

    curated = curate_generated_samples(samples(), curation_options(samples()), teacher=no_teacher_wanted)
    assert curated.samples.counts() == {"articles": 1, "posts": 1}
    assert curated.metadata["num_samples_in"] == 4
    assert curated.metadata["num_samples"] == 2
    assert curated.metadata["num_samples_per_category"] == {"articles": 1, "posts": 1}
    assert curated.metadata["judge"] is False
    assert list(curated.metadata["steps"]) == ["rule_filters", "exact_dedup", "near_dedup"]


def test_use_judge_without_a_teacher_curates_without_a_judge():
    curated = curate_generated_samples(samples(), curation_options(samples()), use_judge=True, teacher=lambda: None)
    assert curated.metadata["judge"] is False
    assert curated.metadata["num_samples"] == 2


def test_use_judge_with_a_teacher_drops_low_scores():
    teacher = FakeTeacher(score=1)
    curated = curate_generated_samples(samples(), curation_options(samples()), use_judge=True, teacher=lambda: teacher)
    assert teacher.calls == 2
    assert curated.metadata["judge"] is True
    assert curated.metadata["num_samples"] == 0
    assert len(curated.metadata["steps"]) == 4
