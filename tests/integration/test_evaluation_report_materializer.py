"""The evaluation report materializers for real: save, load, metadata and the HTML/Markdown visualisations in
the active (temporary) ZenML artifact store, as `test_dataset_materializer.py` does for dataset splits."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llm_engineering.model.evaluation.report import (
    EvaluationReport,
    render_markdown,
)
from llm_engineering.model.evaluation.retrieval_report import RetrievalReport, render_retrieval_markdown
from tests.evaluation_report_fixtures import JUDGE, crafted_report, crafted_retrieval_report

pytestmark = pytest.mark.integration

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def materializer() -> Callable[[type[Any]], Any]:
    """Build a materializer of the given class on a fresh folder inside the active artifact store: stores
    refuse paths outside their root."""
    from zenml.client import Client

    store = Client().active_stack.artifact_store

    def build(materializer_class: type[Any]) -> Any:
        uri = str(Path(store.path) / "tests" / uuid.uuid4().hex)
        store.makedirs(uri)
        return materializer_class(uri=uri, artifact_store=store)

    return build


def _visualizations(materializer: Any, report: Any) -> dict[str, str]:
    """Visualisation kind ("html", "markdown") -> the saved text."""
    return {
        str(kind.value): Path(uri).read_text(encoding="utf-8")
        for uri, kind in materializer.save_visualizations(report).items()
    }


def test_evaluation_report_round_trips_with_metadata_and_visualizations(materializer):
    from zenml.enums import ArtifactType

    from steps.evaluation_materializers import EvaluationReportMaterializer

    report = crafted_report()
    saver = materializer(EvaluationReportMaterializer)

    saver.save(report)

    assert (Path(saver.uri) / "report.json").is_file()
    assert saver.load(EvaluationReport) == report
    assert saver.compute_content_hash(report) == saver.compute_content_hash(
        EvaluationReport.model_validate_json(report.model_dump_json())
    )
    assert EvaluationReportMaterializer.ASSOCIATED_ARTIFACT_TYPE == ArtifactType.DATA_ANALYSIS

    metadata = saver.extract_metadata(report)
    assert metadata["models"] == ["base", "sft", "dpo"]
    assert metadata["num_samples"] == 6 and metadata["judge_model"] == JUDGE
    assert metadata["judge_metrics"] == ["accuracy"] and metadata["offline_metrics"] == ["heldout_loss", "rouge_l"]
    assert metadata["means"]["sft"] == pytest.approx({"accuracy": 2.4, "heldout_loss": 2.5, "rouge_l": 0.4})
    assert metadata["failures"]["dpo"] == {"accuracy": 1, "heldout_loss": 0, "rouge_l": 0}

    pages = _visualizations(saver, report)
    assert set(pages) == {"html", "markdown"}
    assert pages["markdown"] == render_markdown(report)
    assert f"scored by judge {JUDGE}" in pages["html"] and "Offline metrics need no judge" in pages["html"]
    images = pages["html"].split('src="data:image/png;base64,')[1:]
    assert len(images) == 2  # score distributions and per-category means
    assert all(base64.b64decode(image.split('"', 1)[0]).startswith(PNG_SIGNATURE) for image in images)


def test_retrieval_report_round_trips_with_metadata_and_visualizations(materializer):
    from steps.evaluation_materializers import RetrievalReportMaterializer

    report = crafted_retrieval_report()
    saver = materializer(RetrievalReportMaterializer)

    saver.save(report)

    assert saver.load(RetrievalReport) == report
    metadata = saver.extract_metadata(report)
    assert metadata["queries"] == 4 and isinstance(metadata["queries"], int)
    assert metadata["recall"] == 0.75 and metadata["context_precision"] == 0.25
    assert metadata["query_types"] == ["question", "keywords"] and metadata["categories"] == ["articles", "posts"]
    assert (metadata["latency_p50_ms"], metadata["latency_p95_ms"]) == (12.5, 48.4)

    pages = _visualizations(saver, report)
    assert pages["markdown"] == render_retrieval_markdown(report)
    assert "offline (no judge)" in pages["html"] and pages["html"].count("data:image/png;base64,") == 1


def test_reports_get_these_materializers_by_default():
    from zenml.materializers.materializer_registry import materializer_registry

    from steps.evaluation_materializers import EvaluationReportMaterializer, RetrievalReportMaterializer

    assert materializer_registry[EvaluationReport] is EvaluationReportMaterializer
    assert materializer_registry[RetrievalReport] is RetrievalReportMaterializer
