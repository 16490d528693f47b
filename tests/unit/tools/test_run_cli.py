from click.testing import CliRunner

from tools import run


def test_help_lists_only_available_pipelines():
    result = CliRunner().invoke(run.main, ["--help"])
    assert result.exit_code == 0
    for entry in run.PIPELINES:
        flag = f"--{entry.flag.replace('_', '-')}"
        listed = any(line.split()[:1] == [flag] for line in result.output.splitlines())
        assert listed == run.available(entry)
    assert "--no-cache" in result.output and "--etl-config-filename" in result.output


def test_no_action_is_a_usage_error():
    result = CliRunner().invoke(run.main, [])
    assert result.exit_code == 2
    assert "at least one action flag" in result.output


def test_missing_config_file_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "available", lambda entry: True)
    result = CliRunner().invoke(run.main, ["--run-training", "--config-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "Config file not found" in result.output and "training.yaml" in result.output
