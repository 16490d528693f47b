"""Evaluation report: known means with bootstrap CIs, failures counted and never imputed, per-category rows,
judge/offline labels in the Markdown, and the retrieval report."""

from __future__ import annotations

import pydantic
import pytest

from llm_engineering.model.evaluation.report import (
    EvaluationReport,
    ModelScores,
    best_by_metric,
    build_model_report,
    metric_means,
    render_markdown,
)
from llm_engineering.model.evaluation.retrieval_report import RetrievalReport, render_retrieval_markdown
from llm_engineering.model.evaluation.statistics import bootstrap_mean_ci
from tests.evaluation_report_fixtures import (
    CATEGORIES,
    JUDGE,
    crafted_models,
    crafted_report,
    crafted_retrieval_report,
    judge,
    offline,
)


def test_rows_hold_known_means_counts_failures_and_seeded_intervals():
    report = crafted_report()

    base = report.row("base", "accuracy")
    assert base is not None
    assert (base.mean, base.count, base.failures, base.source) == (pytest.approx(2.0), 5, 1, "judge")
    expected = bootstrap_mean_ci([1.0, 2.0, 3.0, 2.0, 2.0], confidence=0.95, seed=0)
    assert (base.ci_low, base.ci_high) == (expected.low, expected.high)
    assert base.ci_low <= base.mean <= base.ci_high
    assert report.row("sft", "accuracy").mean == pytest.approx(2.4)
    assert report.row("dpo", "heldout_loss").mean == pytest.approx(2.0)
    assert report.row("dpo", "heldout_loss").ci_low == pytest.approx(2.0)  # constant scores: a point interval
    assert report.models == ["base", "sft", "dpo"] and report.num_samples == 6 and report.judge_model == JUDGE
    assert [info.metric for info in report.metrics] == ["accuracy", "heldout_loss", "rouge_l"]
    assert len(report.rows) == 9
    assert crafted_report().rows == report.rows  # seeded: same scores, same intervals


def test_failures_are_counted_not_imputed():
    report = build_model_report(
        [ModelScores(model="m", metrics=[judge("accuracy", [3.0, None, None, None])])], None, "t"
    )

    row = report.row("m", "accuracy")
    assert (row.mean, row.count, row.failures) == (3.0, 1, 3)  # not 0.75: a failure is not a zero
    assert (row.ci_low, row.ci_high) == (3.0, 3.0)
    assert report.category_rows == [] and report.categories is None


def test_a_metric_with_only_failures_keeps_its_row_without_a_mean():
    models = crafted_models()
    models[1].metrics.append(judge("style", [None] * 6))
    report = crafted_report(models=models)

    row = report.row("sft", "style")
    assert row is not None
    assert (row.mean, row.ci_low, row.ci_high, row.count, row.failures) == (None, None, None, 0, 6)
    assert "style" not in metric_means(report, "sft")  # a gate on it fails rather than compare a made-up number
    assert "style" not in best_by_metric(report)
    assert "| style ↑ | sft | n/a | n/a | 0 | 6 |" in render_markdown(report)


def test_per_category_rows():
    report = crafted_report()
    rows = {(row.model, row.metric, row.category): row for row in report.category_rows}

    assert len(rows) == 3 * 3 * 3
    posts = rows[("base", "accuracy", "posts")]
    assert (posts.mean, posts.count, posts.failures) == (3.0, 1, 1)
    articles = rows[("base", "accuracy", "articles")]
    assert (articles.mean, articles.count, articles.failures) == (1.5, 2, 0)
    assert rows[("dpo", "accuracy", "repositories")].mean == 3.0
    assert rows[("base", "rouge_l", "articles")].mean == pytest.approx(0.2)


def test_best_by_metric_follows_each_metrics_direction_and_metric_means():
    report = crafted_report()

    assert best_by_metric(report) == {"accuracy": "dpo", "heldout_loss": "dpo", "rouge_l": "dpo"}
    assert metric_means(report, "base") == pytest.approx({"accuracy": 2.0, "heldout_loss": 3.0, "rouge_l": 0.2})
    with pytest.raises(ValueError, match="not in the report"):
        metric_means(report, "rlhf")


def test_report_round_trips_as_json():
    report = crafted_report()
    assert EvaluationReport.model_validate_json(report.model_dump_json()) == report


@pytest.mark.parametrize(
    ("models", "categories", "message"),
    [
        ([], None, "at least one model"),
        ([ModelScores(model="a", metrics=[]), ModelScores(model="a", metrics=[])], None, "unique"),
        ([ModelScores(model="a", metrics=[judge("x", [1.0]), judge("x", [2.0])])], None, "twice"),
        (
            [
                ModelScores(model="a", metrics=[judge("x", [1.0])]),
                ModelScores(model="b", metrics=[offline("x", [1.0])]),
            ],
            None,
            "different source or direction",
        ),
        ([ModelScores(model="a", metrics=[judge("x", [1.0, 2.0])])], ["posts"], "2 values for 1 samples"),
        ([ModelScores(model="a", metrics=[judge("x", [1.0]), judge("y", [1.0, 2.0])])], None, "aligned"),
    ],
)
def test_invalid_inputs_are_refused(models, categories, message):
    with pytest.raises(ValueError, match=message):
        build_model_report(models, categories, "t")


def test_nan_scores_are_refused():
    with pytest.raises(pydantic.ValidationError, match="finite"):
        judge("accuracy", [1.0, float("nan")])


def test_markdown_labels_judge_and_offline_metrics_judge_first():
    markdown = render_markdown(crafted_report())

    judge_at, offline_at = markdown.index("## Judge metrics"), markdown.index("## Offline metrics")
    assert judge_at < offline_at
    assert f"scored by judge {JUDGE}" in markdown
    assert "Offline metrics need no judge" in markdown
    judge_part, offline_part = markdown[judge_at:offline_at], markdown[offline_at:]
    assert "accuracy ↑" in judge_part and "heldout\\_loss" not in judge_part
    assert "heldout\\_loss ↓" in offline_part.split("## Per category")[0]
    assert "| accuracy ↑ | base | 2.000 | [" in markdown  # 3 decimals, CI as [low, high]
    assert "| accuracy ↑ | dpo | **2.800** |" in markdown  # the best mean is bold
    assert "| heldout\\_loss ↓ | dpo | **2.000** | [2.000, 2.000] | 6 | 0 |" in markdown
    assert "| accuracy | judge | base | 1.500 (2) | 3.000 (1) | 2.000 (2) |" in markdown
    assert "| metric | source | model | articles | posts | repositories |" in markdown
    assert "- accuracy (judge, higher is better): 1-3 scale" in markdown
    assert "- Test split of 6 samples." in markdown


def test_markdown_without_a_judge_says_judge_metrics_are_absent():
    offline_only = [
        ModelScores(model=model.model, metrics=[m for m in model.metrics if m.source == "offline"])
        for model in crafted_models()
    ]
    markdown = render_markdown(build_model_report(offline_only, CATEGORIES, "offline only"))

    assert "No judge configured: judge metrics absent." in markdown
    assert "Offline metrics need no judge" in markdown
    assert "| accuracy" not in markdown


def test_markdown_escapes_table_breaking_names():
    models = [ModelScores(model="sft|v2 <b>", metrics=[judge("acc", [1.0])])]
    markdown = render_markdown(build_model_report(models, None, "t"))
    assert "| acc ↑ | sft\\|v2 &lt;b&gt; | 1.000 | [1.000, 1.000] | 1 | 0 |" in markdown


def test_retrieval_markdown():
    report = crafted_retrieval_report()
    markdown = render_retrieval_markdown(report)

    assert markdown.startswith("# RAG retrieval: hybrid search")
    assert "offline (no judge)" in markdown
    assert "- k: 5" in markdown and "- retriever: hybrid" in markdown
    assert "| set | queries | recall | mrr | ndcg | context\\_precision |" in markdown
    assert "| all | 4 | 0.750 | 0.500 | 0.600 | 0.250 |" in markdown  # the query count stays an integer
    assert "## Per query type" in markdown and "| keywords | 1 | 0.000 |" in markdown
    assert "## Per category" in markdown and "| posts | 2 | 1.000 |" in markdown
    assert "p50 12.5 ms, p95 48.4 ms per query." in markdown
    assert "- Labelled queries from the test split." in markdown
    assert RetrievalReport.model_validate_json(report.model_dump_json()) == report


def test_retrieval_markdown_without_groups_or_latency():
    report = RetrievalReport(title="bare", overall={"queries": 1, "recall": 1.0})
    markdown = render_retrieval_markdown(report)
    assert "| all | 1 | 1.000 |" in markdown
    assert "## Per query type" not in markdown and "## Latency" not in markdown
