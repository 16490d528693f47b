"""Plots and HTML of evaluation reports: real PNGs, escaped self-contained HTML, the report folder on disk."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest

from llm_engineering.model.evaluation.plots import (
    CATEGORY_MEANS,
    RETRIEVAL_METRICS,
    SCORE_DISTRIBUTIONS,
    category_means_png,
    render_html,
    report_plots,
    retrieval_png,
    score_distributions_png,
    write_report,
)
from llm_engineering.model.evaluation.report import (
    EvaluationReport,
    ModelScores,
    build_model_report,
    render_markdown,
)
from llm_engineering.model.evaluation.retrieval_report import RetrievalReport, render_retrieval_markdown
from tests.conftest import PROJECT_ROOT
from tests.evaluation_report_fixtures import JUDGE, crafted_models, crafted_report, crafted_retrieval_report, judge

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_plots_are_png_images():
    report = crafted_report()
    for data in (
        score_distributions_png(report),
        category_means_png(report),
        retrieval_png(crafted_retrieval_report()),
    ):
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1000


def test_plots_cope_with_a_metric_without_scores_and_no_categories():
    models = crafted_models()
    models[0].metrics.append(judge("style", [None] * 6))
    report = build_model_report(models, None, "no categories")

    plots = report_plots(report)

    assert list(plots) == [SCORE_DISTRIBUTIONS]  # no categories, no per-category bars
    assert plots[SCORE_DISTRIBUTIONS].startswith(PNG_SIGNATURE)
    assert report_plots(build_model_report([ModelScores(model="m", metrics=[])], None, "empty")) == {}


def test_importing_plots_leaves_matplotlib_unloaded():
    code = "import sys, llm_engineering.model.evaluation.plots; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    assert result.stdout.strip() == "False"


def test_html_is_self_contained_and_escapes_names():
    models = crafted_models()
    models[0].model = "<script>alert('x')</script>"
    report = build_model_report(models, None, "Twin & <friends>", judge_model=JUDGE, notes=["<b>bold?</b>"])

    page = render_html(report)

    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Twin &amp; &lt;friends&gt;" in page and "&lt;b&gt;bold?&lt;/b&gt;" in page
    assert "http://" not in page and "https://" not in page  # no external assets
    image = page.split('src="data:image/png;base64,', 1)[1].split('"', 1)[0]
    assert base64.b64decode(image).startswith(PNG_SIGNATURE)
    assert f"scored by judge {JUDGE}" in page and "Offline metrics need no judge" in page
    assert page.index("Judge metrics") < page.index("Offline metrics")


def test_html_uses_the_plots_it_is_given():
    page = render_html(crafted_report(), {"only.png": PNG_SIGNATURE})
    assert page.count("data:image/png;base64,") == 1
    assert base64.b64encode(PNG_SIGNATURE).decode() in page


def test_retrieval_html_labels_metrics_offline():
    page = render_html(crafted_retrieval_report())
    assert "offline (no judge)" in page and "<td>keywords</td>" in page and "48.4 ms" in page
    assert page.count("data:image/png;base64,") == 1


def test_write_report_writes_every_file_and_overwrites(tmp_path):
    report = crafted_report()
    folder = tmp_path / "reports" / "eval"

    written = write_report(report, folder)

    assert set(written) == {"report.md", "report.json", "report.html", SCORE_DISTRIBUTIONS, CATEGORY_MEANS}
    assert all(path.parent == folder and path.is_file() for path in written.values())
    assert written["report.md"].read_text(encoding="utf-8") == render_markdown(report)
    assert EvaluationReport.model_validate_json(written["report.json"].read_text(encoding="utf-8")) == report
    assert written[CATEGORY_MEANS].read_bytes().startswith(PNG_SIGNATURE)
    assert "<table>" in written["report.html"].read_text(encoding="utf-8")

    again = write_report(report, folder)
    assert again == written and again["report.md"].read_text(encoding="utf-8") == render_markdown(report)

    # A later report without categories must not leave the old per-category plot behind.
    write_report(build_model_report(crafted_models(), None, "later"), folder)
    assert not (folder / CATEGORY_MEANS).exists()
    assert "# later" in (folder / "report.md").read_text(encoding="utf-8")


def test_write_report_writes_a_retrieval_report(tmp_path):
    report = crafted_retrieval_report()

    written = write_report(report, tmp_path)

    assert set(written) == {"report.md", "report.json", "report.html", RETRIEVAL_METRICS}
    assert written["report.md"].read_text(encoding="utf-8") == render_retrieval_markdown(report)
    assert RetrievalReport.model_validate_json(written["report.json"].read_text(encoding="utf-8")) == report


@pytest.mark.parametrize("name", ["base", "sft", "dpo"])
def test_every_model_appears_in_the_html_tables(name):
    assert f"<td>{name}</td>" in render_html(crafted_report(), {})
