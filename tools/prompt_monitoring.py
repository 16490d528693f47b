"""Prompt monitoring job: sample the newest `/rag` traces in Opik, score the unjudged ones with the LLM
judge (accuracy and style, written back as `judge_accuracy` / `judge_style` feedback scores), and report
drift between the older and the newer half of the sample.

    poetry run poe run-prompt-monitoring                 # MONITORING_SAMPLE_SIZE traces, judge when configured
    poetry run python -m tools.prompt_monitoring --sample 200 --no-judge

Needs Opik (OPIK_API_KEY or OPIK_URL_OVERRIDE); the judge is EVALUATION_JUDGE_BASE_URL. Writes
output/monitoring/report.{md,json}. Exit status 0, or 4 with --fail-on-drift when a metric drifted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from llm_engineering.application.operations.prompt_monitoring import monitor_traces

OUTPUT_DIR = Path(__file__).resolve().parent.parent / "output" / "monitoring"
EXIT_DRIFT = 4


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--sample", type=click.IntRange(2, 5000), default=None, help="Traces (default MONITORING_SAMPLE_SIZE).")
@click.option("--judge/--no-judge", default=True, show_default=True, help="Judge unjudged traces when configured.")
@click.option("--fail-on-drift", is_flag=True, help=f"Exit with status {EXIT_DRIFT} when a metric drifted.")
@click.option("--output", type=click.Path(path_type=Path, file_okay=False), default=OUTPUT_DIR, show_default=True)
def main(sample: int | None, judge: bool, fail_on_drift: bool, output: Path) -> None:
    """Score recent /rag traces with the judge and report drift."""
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported

    from llm_engineering import bootstrap
    from llm_engineering.infrastructure import opik_tracing
    from llm_engineering.infrastructure.opik_monitoring import OpikTraceStore

    container = bootstrap.container()
    settings = container.settings
    if not opik_tracing.opik_enabled():
        raise click.ClickException(
            "Prompt monitoring reads the /rag traces from Opik: set OPIK_API_KEY (Comet) or OPIK_URL_OVERRIDE "
            "(self-hosted server) for the API and this job."
        )
    llm_judge = container.evaluation_judge() if judge else None
    if judge and llm_judge is None:
        click.echo("No judge configured (EVALUATION_JUDGE_BASE_URL): comparing existing scores, tokens and latency.")
    report = monitor_traces(
        OpikTraceStore(),
        sample or settings.MONITORING_SAMPLE_SIZE,
        llm_judge,
        settings.MONITORING_SCORE_DRIFT,
        settings.MONITORING_RELATIVE_DRIFT,
    )
    opik_tracing.flush()
    output.mkdir(parents=True, exist_ok=True)
    (output / "report.md").write_text(report.markdown(), encoding="utf-8")
    (output / "report.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    click.echo(report.markdown())
    click.echo(f"Report: {output / 'report.md'}")
    if report.drifted:
        from llm_engineering.application.operations.alerts import Alert

        container.alerter().post(
            Alert(
                status="failed",
                pipeline="prompt_monitoring",
                error=f"drift in {', '.join(report.drifted)}",
                details={"traces": report.traces, "judged_now": report.judged_now},
            )
        )
        if fail_on_drift:
            sys.exit(EXIT_DRIFT)


if __name__ == "__main__":
    main()
