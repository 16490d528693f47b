"""ZenML materializers for evaluation reports, so the dashboard shows them.

`EvaluationReportMaterializer` (model comparison: base vs SFT vs DPO) and `RetrievalReportMaterializer`
(RAG retrieval) store the report as one JSON file, record counts and means as artifact metadata, and save
two visualisations: an HTML page with the plots inline and the Markdown report. A step opts in with
`@step(output_materializers=...)`; defining the classes also registers them as the default materializers
of their report types once this module is imported.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, ClassVar

from pydantic import BaseModel
from zenml.enums import ArtifactType, VisualizationType
from zenml.materializers.base_materializer import BaseMaterializer
from zenml.metadata.metadata_types import MetadataType

from llm_engineering.model.evaluation.plots import render_html
from llm_engineering.model.evaluation.report import (
    EvaluationReport,
    render_markdown,
)
from llm_engineering.model.evaluation.retrieval_report import RetrievalReport, render_retrieval_markdown

DATA_FILENAME = "report.json"
HTML_FILENAME = "report.html"
MARKDOWN_FILENAME = "report.md"


class _JsonReportMixin:
    """A pydantic report <-> `<uri>/report.json`, plus the HTML and Markdown visualisations. A mixin, not a
    `BaseMaterializer` subclass: ZenML refuses a materializer class without associated types."""

    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA_ANALYSIS
    REPORT_TYPE: ClassVar[type[BaseModel]]
    uri: str  # set by BaseMaterializer.__init__
    artifact_store: Any

    def _path(self, filename: str) -> str:
        # os.path, not Path: the URI may be remote (s3://...), which Path would mangle.
        return os.path.join(self.uri, filename)  # noqa: PTH118

    def load(self, data_type: type[Any]) -> Any:
        # Always the concrete report: a step input annotated with a base class (BaseModel) still gets it.
        with self.artifact_store.open(self._path(DATA_FILENAME), "r") as file:
            return self.REPORT_TYPE.model_validate_json(file.read())

    def save(self, data: Any) -> None:
        with self.artifact_store.open(self._path(DATA_FILENAME), "w") as file:
            file.write(data.model_dump_json())

    def compute_content_hash(self, data: Any) -> str | None:
        digest = hashlib.md5(usedforsecurity=False)
        digest.update(type(self).__name__.encode())
        digest.update(data.model_dump_json().encode())
        return digest.hexdigest()

    def save_visualizations(self, data: Any) -> dict[str, VisualizationType]:
        """The HTML page (tables and inline plots) and the Markdown report, in that order."""
        pages = {
            HTML_FILENAME: (render_html(data), VisualizationType.HTML),
            MARKDOWN_FILENAME: (self.markdown(data), VisualizationType.MARKDOWN),
        }
        visualizations: dict[str, VisualizationType] = {}
        for filename, (text, kind) in pages.items():
            path = self._path(filename)
            with self.artifact_store.open(path, "w") as file:
                file.write(text)
            visualizations[path.replace("\\", "/")] = kind
        return visualizations

    def markdown(self, data: Any) -> str:
        """The report as Markdown; each concrete materializer names its renderer."""
        raise NotImplementedError


class EvaluationReportMaterializer(_JsonReportMixin, BaseMaterializer):
    """`EvaluationReport` <-> `<uri>/report.json`, with means and failures as metadata."""

    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (EvaluationReport,)
    REPORT_TYPE: ClassVar[type[BaseModel]] = EvaluationReport

    def markdown(self, data: EvaluationReport) -> str:
        return render_markdown(data)

    def extract_metadata(self, data: EvaluationReport) -> dict[str, MetadataType]:
        """Models, sample count, judge (or "none"), metric names per source, and per model the means and
        failures of every metric (a metric with no scored sample has no mean, only failures)."""
        return {
            "models": list(data.models),
            "num_samples": data.num_samples,
            "judge_model": data.judge_model or "none",
            "judge_metrics": [info.metric for info in data.metrics_from("judge")],
            "offline_metrics": [info.metric for info in data.metrics_from("offline")],
            "means": {
                model: {row.metric: row.mean for row in data.rows if row.model == model and row.mean is not None}
                for model in data.models
            },
            "failures": {
                model: {row.metric: row.failures for row in data.rows if row.model == model} for model in data.models
            },
        }


class RetrievalReportMaterializer(_JsonReportMixin, BaseMaterializer):
    """`RetrievalReport` <-> `<uri>/report.json`, with the overall metrics and latency as metadata."""

    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (RetrievalReport,)
    REPORT_TYPE: ClassVar[type[BaseModel]] = RetrievalReport

    def markdown(self, data: RetrievalReport) -> str:
        return render_retrieval_markdown(data)

    def extract_metadata(self, data: RetrievalReport) -> dict[str, MetadataType]:
        """The overall metrics (queries as an int), the query types and categories, latency when measured."""
        metadata: dict[str, MetadataType] = {
            name: int(value) if name == "queries" else value for name, value in data.overall.items()
        }
        metadata["query_types"] = list(data.by_query_type)
        metadata["categories"] = list(data.by_category)
        if data.latency_p50_ms is not None:
            metadata["latency_p50_ms"] = data.latency_p50_ms
        if data.latency_p95_ms is not None:
            metadata["latency_p95_ms"] = data.latency_p95_ms
        return metadata
