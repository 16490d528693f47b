"""Steps of the `evaluating` pipeline: samples -> answers per model -> scores per model -> report -> gate."""

from steps.evaluating.gate import evaluation_gate
from steps.evaluating.generate import generate_model_answers
from steps.evaluating.opik_logging import log_evaluation_to_opik
from steps.evaluating.report import build_evaluation_report
from steps.evaluating.samples import select_evaluation_samples
from steps.evaluating.score import score_model_answers

__all__ = [
    "build_evaluation_report",
    "evaluation_gate",
    "generate_model_answers",
    "log_evaluation_to_opik",
    "score_model_answers",
    "select_evaluation_samples",
]
