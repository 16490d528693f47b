"""Step: the comparison report of every evaluated model (table with 95% bootstrap CIs, per-category table,
plots), shown in the dashboard and written to `output/evaluation/<run name>/`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from loguru import logger
from zenml import get_step_context, log_metadata, step

from llm_engineering.model.evaluation.report import EvaluationReport, ModelScores
from steps.evaluating.samples import EvaluationSamples
from steps.evaluation_materializers import EvaluationReportMaterializer

OUTPUT_DIR = Path("output") / "evaluation"


@step(output_materializers=EvaluationReportMaterializer)
def build_evaluation_report(
    samples: EvaluationSamples, scores: list[ModelScores], title: str = "LLM Twin model evaluation"
) -> Annotated[EvaluationReport, "evaluation_report"]:
    from llm_engineering import bootstrap
    from llm_engineering.model.evaluation.plots import write_report
    from llm_engineering.model.evaluation.report import build_model_report, render_markdown

    settings = bootstrap.container().settings
    judged = any(metric.source == "judge" for model in scores for metric in model.metrics)
    judge_model = (settings.EVALUATION_JUDGE_MODEL_ID or settings.OPENAI_MODEL_ID) if judged else None
    report = build_model_report(
        scores,
        [sample.category for sample in samples.samples],
        title=title,
        judge_model=judge_model,
        notes=[f"{len(samples.samples)} held-out samples of the instruct test split, the same for every model."],
    )
    folder = OUTPUT_DIR / get_step_context().pipeline_run.name
    written = write_report(report, folder)
    logger.info("Evaluation report:\n{}\nWritten to {}", render_markdown(report), written.get("report.md", folder))
    log_metadata(metadata={"report_folder": str(folder.resolve())}, infer_artifact=True)
    return report
