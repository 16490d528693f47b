"""Dataset generation against a REAL OpenAI-compatible server (the tiny test model served by `transformers
serve`): offline back-translation, the teacher path with a model that cannot write JSON, curation and split."""

from __future__ import annotations

import pytest

from llm_engineering.application.datasets.extracts import SourceDocument, extract_passages
from llm_engineering.application.datasets.generation import (
    BackTranslationGenerator,
    LLMBudget,
    TeacherGenerator,
    passage_answer,
)
from llm_engineering.application.datasets.service import CurationOptions, curate_samples, split_dataset
from llm_engineering.domain.datasets import DatasetSamples, DatasetType, GenerationMethod, InstructionSource
from llm_engineering.domain.types import DataCategory
from llm_engineering.model.hf_datasets import split_tables
from tests.datasets_fixtures import demo_cleaned_articles

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def documents():
    return {str(document.id): document for document in demo_cleaned_articles()}


@pytest.fixture(scope="module")
def extracts(documents):
    sources = [SourceDocument.from_cleaned(document) for document in documents.values()]
    found, report = extract_passages(sources, min_chars=400, max_chars=1200)
    assert report.documents == 4 and report.documents_too_short == 0
    return found


@pytest.fixture
def client(llm_server):
    from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient

    llm = OpenAICompatibleClient(base_url=llm_server["base_url"], model_id=llm_server["model_id"], timeout_s=60)
    yield llm
    llm.close()


def test_offline_instruct_answers_are_the_authors_text_and_every_instruction_is_accounted_for(
    client, extracts, documents
):
    generator = BackTranslationGenerator(client, DatasetType.INSTRUCTION, budget=LLMBudget(max_calls=3), progress=False)

    samples, report = generator.generate(extracts)

    assert len(samples) == len(extracts) == report.samples == report.extracts
    assert report.requests == 3  # the budget: later extracts get template instructions without a call
    sources = report.instruction_sources
    assert sources[InstructionSource.MODEL] + sources[InstructionSource.TEMPLATE] == len(samples)
    template_reasons = {key: count for key, count in report.failures.items() if key.startswith("instruction_template:")}
    assert sum(template_reasons.values()) == sources[InstructionSource.TEMPLATE]
    assert template_reasons["instruction_template:call_limit"] == len(extracts) - 3
    for sample in samples:
        provenance = sample.provenance
        assert provenance.method == GenerationMethod.BACK_TRANSLATION
        content = documents[provenance.document_id].content
        # Any sample traces back to the author's words: the answer IS the extract's span.
        assert passage_answer(content[provenance.extract_start : provenance.extract_end]) == sample.answer
        assert provenance.document_link == documents[provenance.document_id].link
        assert (provenance.model_id == client.model_id) == (provenance.instruction_source == InstructionSource.MODEL)
        assert sample.instruction.strip() and "extract" not in sample.instruction.lower()


def test_offline_preference_pairs_the_authors_passage_with_the_local_models_answer(client, extracts, documents):
    generator = BackTranslationGenerator(client, DatasetType.PREFERENCE, budget=LLMBudget(max_calls=40), progress=False)

    samples, report = generator.generate(extracts)

    rejected_failures = sum(count for key, count in report.failures.items() if key.startswith("rejected_"))
    assert len(samples) + rejected_failures == len(extracts)  # no pair without a real rejected answer
    assert report.requests == 2 * len(extracts)  # one instruction and one answer per extract
    for sample in samples:
        content = documents[sample.document_id].content
        start, end = sample.provenance.extract_start, sample.provenance.extract_end
        assert sample.chosen == passage_answer(content[start:end])
        assert sample.rejected.strip() and sample.rejected != sample.chosen
        assert sample.provenance.model_id == client.model_id


def test_a_teacher_that_cannot_write_json_yields_no_invented_samples(client, extracts):
    generator = TeacherGenerator(
        client, DatasetType.INSTRUCTION, samples_per_extract=2, max_workers=2, max_attempts=2, progress=False
    )

    samples, report = generator.generate(extracts[:3])

    assert samples == [] and report.samples == 0
    assert report.requests == 6  # two attempts per extract, then the extract is given up
    assert sum(report.failures.values()) >= 3
    assert set(report.failures) <= {
        "no_json",
        "no_json_retried",
        "invalid_json",
        "invalid_json_retried",
        "wrong_schema",
        "wrong_schema_retried",
        "empty",
        "empty_retried",
        "invalid_items",
    }


def test_generated_samples_are_curated_and_split_without_sharing_a_document(client, extracts, documents):
    samples, _ = BackTranslationGenerator(
        client, DatasetType.INSTRUCTION, budget=LLMBudget(max_calls=0), progress=False
    ).generate(extracts)
    grouped = DatasetSamples.from_samples(
        DatasetType.INSTRUCTION, samples, {key: DataCategory.ARTICLES for key in documents}
    )

    kept, reports = curate_samples(grouped.all(), CurationOptions())
    split, split_report, decontamination = split_dataset(
        DatasetType.INSTRUCTION, {DataCategory.ARTICLES: kept}, test_size=0.25, options=CurationOptions()
    )

    assert [report.name for report in reports] == ["rule_filters", "exact_dedup", "near_dedup"]
    assert reports[-1].kept == len(kept)
    assert split.shared_documents() == set()
    assert split.num_samples("test") >= 1 and split.num_samples("train") >= 1
    assert split_report.documents["articles"]["test"] >= 1
    assert decontamination.kept == split.num_samples("train")
    hf = split_tables(split)
    assert hf["train"].column_names == ["instruction", "output"]
    assert hf["train"].num_rows + hf["test"].num_rows == split.num_samples("train") + split.num_samples("test")
