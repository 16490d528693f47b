"""`tools.run` author selection for the feature pipeline, own ETL configs, and the poe tasks that wrap them."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from tools import run


@pytest.fixture
def ran(monkeypatch):
    """Record (pipeline function, config path, parameters of that config) instead of running pipelines."""
    calls: list[tuple[str, str, dict]] = []

    def fake_run_pipeline(entry, config_path, no_cache):
        parameters = (yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}).get("parameters") or {}
        calls.append((entry.function, str(config_path), parameters))

    monkeypatch.setattr(run, "available", lambda entry: True)
    monkeypatch.setattr(run, "run_pipeline", fake_run_pipeline)
    return calls


def _write(path, parameters: dict):
    path.write_text(yaml.safe_dump({"parameters": parameters}), encoding="utf-8")
    return path


def _invoke(*args: str):
    return CliRunner().invoke(run.main, list(args))


def test_parse_authors_splits_commas_strips_and_deduplicates():
    assert run.parse_authors(["Jane Doe, Paul Iusztin", " Jane Doe ", "", "Ada Lovelace,"]) == [
        "Jane Doe",
        "Paul Iusztin",
        "Ada Lovelace",
    ]
    assert run.parse_authors([]) == []


def test_authors_override_the_configs_list_and_keep_its_other_parameters(tmp_path, ran):
    _write(tmp_path / "feature_engineering.yaml", {"author_full_names": ["Maxime Labonne"], "incremental": False})

    result = _invoke(
        "--run-feature-engineering",
        "--config-dir",
        str(tmp_path),
        "--authors",
        "Jane Doe, Paul Iusztin",
        "--authors",
        "Jane Doe",
    )

    assert result.exit_code == 0, result.output
    [(function, config_path, parameters)] = ran
    assert function == "feature_engineering"
    assert parameters == {"author_full_names": ["Jane Doe", "Paul Iusztin"], "incremental": False}
    assert config_path != str(tmp_path / "feature_engineering.yaml")  # a copy; the user's file is untouched
    assert yaml.safe_load((tmp_path / "feature_engineering.yaml").read_text())["parameters"]["author_full_names"] == [
        "Maxime Labonne"
    ]
    assert "from --authors" in result.output


def test_without_authors_the_config_without_a_list_means_all_authors(tmp_path, ran):
    _write(tmp_path / "feature_engineering.yaml", {"incremental": True})

    result = _invoke("--run-feature-engineering", "--config-dir", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert ran == [("feature_engineering", str(tmp_path / "feature_engineering.yaml"), {"incremental": True})]
    assert "all authors in the warehouse" in result.output


def test_without_authors_a_configs_own_list_is_kept(tmp_path, ran):
    config = _write(tmp_path / "feature_engineering.yaml", {"author_full_names": ["Maxime Labonne"]})

    result = _invoke("--run-feature-engineering", "--config-dir", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert ran == [("feature_engineering", str(config), {"author_full_names": ["Maxime Labonne"]})]


def test_the_shipped_feature_config_names_no_author_so_the_default_is_all_authors(ran):
    result = _invoke("--run-feature-engineering")

    assert result.exit_code == 0, result.output
    [(_, config_path, parameters)] = ran
    assert config_path == str(run.CONFIGS_DIR / "feature_engineering.yaml")
    assert "author_full_names" not in parameters
    text = (run.CONFIGS_DIR / "feature_engineering.yaml").read_text(encoding="utf-8")
    assert "poetry run poe run-feature-engineering-pipeline" in text and "poetry poe" not in text


def test_crawl_then_features_embeds_the_crawled_author_unless_authors_say_otherwise(tmp_path, ran, monkeypatch):
    _write(tmp_path / "feature_engineering.yaml", {"author_full_names": ["Maxime Labonne"]})
    own = _write(tmp_path / "my_author.yaml", {"user_full_name": " Jane Q Public ", "links": ["https://x.example/a"]})
    monkeypatch.chdir(tmp_path)  # the ETL config is given as a path, not a name in --config-dir

    result = _invoke(
        "--run-etl",
        "--run-feature-engineering",
        "--etl-config-filename",
        "my_author.yaml",
        "--config-dir",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    assert [call[0] for call in ran] == ["digital_data_etl", "feature_engineering"]  # crawl first
    assert ran[0][1] == str(own)
    assert ran[1][2] == {"author_full_names": ["Jane Q Public"]}

    ran.clear()
    result = _invoke(
        "--run-etl",
        "--run-feature-engineering",
        "--etl-config-filename",
        str(own),
        "--config-dir",
        str(tmp_path),
        "--authors",
        "Ada Lovelace",
    )
    assert result.exit_code == 0, result.output
    assert ran[1][2] == {"author_full_names": ["Ada Lovelace"]}


def test_etl_config_is_a_name_in_the_config_dir_or_a_path(tmp_path, ran, monkeypatch):
    _write(tmp_path / "jane.yaml", {"user_full_name": "Jane Doe", "links": []})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    by_name = _invoke("--run-etl", "--etl-config-filename", "jane.yaml", "--config-dir", str(tmp_path))
    by_path = _invoke("--run-etl", "--etl-config-filename", "../jane.yaml")

    assert by_name.exit_code == 0 and by_path.exit_code == 0, by_name.output + by_path.output
    assert [call[1] for call in ran] == [str(tmp_path / "jane.yaml"), "../jane.yaml"]


def test_missing_own_config_and_the_template_itself_say_what_to_do(ran):
    missing = _invoke("--run-etl", "--etl-config-filename", "configs/my_author_that_does_not_exist.yaml")
    template = _invoke("--run-etl", "--etl-config-filename", "digital_data_etl_template.yaml")

    assert missing.exit_code == 2 and template.exit_code == 2
    assert "Config file not found: configs/my_author_that_does_not_exist.yaml" in missing.output
    assert "is the template" in template.output
    for result in (missing, template):
        assert "copy configs/digital_data_etl_template.yaml" in result.output
        assert "run-digital-data-etl-own --config configs/my_author.yaml" in result.output
    assert ran == []


def test_a_missing_feature_config_fails_before_the_crawl_runs(tmp_path, ran):
    _write(tmp_path / "jane.yaml", {"user_full_name": "Jane Doe", "links": []})

    result = _invoke(
        "--run-etl", "--run-feature-engineering", "--etl-config-filename", "jane.yaml", "--config-dir", str(tmp_path)
    )

    assert result.exit_code == 2 and "feature_engineering.yaml" in result.output
    assert ran == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run-etl", "--authors", "Jane Doe"], "--authors applies to --run-feature-engineering"),
        (["--run-feature-engineering", "--authors", " , "], "give at least one name"),
    ],
)
def test_authors_usage_errors(ran, args, message):
    result = _invoke(*args)
    assert result.exit_code == 2 and message in result.output
    assert ran == []


def test_a_config_that_is_not_yaml_is_a_usage_error(tmp_path, ran):
    (tmp_path / "feature_engineering.yaml").write_text("parameters: [unclosed", encoding="utf-8")

    result = _invoke("--run-feature-engineering", "--config-dir", str(tmp_path), "--authors", "Jane Doe")

    assert result.exit_code == 2 and "not valid YAML" in result.output


def test_param_overrides_reach_the_pipeline_config_as_yaml_values(ran):
    result = CliRunner().invoke(
        run.main,
        ["--run-training", "--param", "profile=gpu", "--param", "run_dpo=false", "--param", "eval_max_samples=10"],
    )

    assert result.exit_code == 0, result.output
    ((function, _, parameters),) = ran
    assert function == "training"
    assert parameters["profile"] == "gpu" and parameters["run_dpo"] is False and parameters["eval_max_samples"] == 10
    assert "cpu" in parameters["profiles"]  # the rest of configs/training.yaml is kept


def test_param_without_equals_sign_is_a_usage_error(ran):
    result = CliRunner().invoke(run.main, ["--run-training", "--param", "profile"])

    assert result.exit_code == 2 and "--param expects KEY=VALUE" in result.output and not ran
