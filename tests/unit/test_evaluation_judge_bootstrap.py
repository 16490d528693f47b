"""The evaluation judge's settings and its builder in the composition root."""

from __future__ import annotations

import pytest

from llm_engineering import bootstrap
from llm_engineering.application.evaluation.judge import LLMJudge
from llm_engineering.bootstrap.builders import llm as llm_builders
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.settings import load_settings

JUDGE_VARIABLES = (
    "EVALUATION_JUDGE_BASE_URL",
    "EVALUATION_JUDGE_MODEL_ID",
    "EVALUATION_JUDGE_API_KEY",
    "EVALUATION_JUDGE_MAX_WORKERS",
    "EVALUATION_JUDGE_TIMEOUT_S",
    "OPENAI_MODEL_ID",
    "OPENAI_API_KEY",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in JUDGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def settings_with(tmp_path, **values):
    return load_settings(env_file=tmp_path / "none.env", **values)


def test_no_judge_unless_a_base_url_is_set(tmp_path, monkeypatch):
    settings = settings_with(tmp_path)
    assert settings.EVALUATION_JUDGE_BASE_URL is None
    assert (settings.EVALUATION_JUDGE_MAX_WORKERS, settings.EVALUATION_JUDGE_TIMEOUT_S) == (4, 120.0)
    assert bootstrap.build_evaluation_judge(settings) is None
    monkeypatch.setenv("EVALUATION_JUDGE_BASE_URL", "")  # an empty line in .env means unset
    assert bootstrap.build_evaluation_judge(settings_with(tmp_path)) is None


def test_the_judge_falls_back_to_the_openai_model_and_key(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALUATION_JUDGE_BASE_URL", "https://api.openai.com/v1/")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("EVALUATION_JUDGE_MAX_WORKERS", "7")
    judge = bootstrap.build_evaluation_judge(settings_with(tmp_path))
    assert isinstance(judge, LLMJudge) and judge.max_workers == 7
    assert judge.model_id == "gpt-4o-mini"
    assert judge.llm.endpoint == "https://api.openai.com/v1"
    assert judge.llm.api_key == "sk-openai"  # type: ignore[attr-defined]


def test_the_judges_own_model_key_and_timeout_win(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    settings = settings_with(
        tmp_path,
        EVALUATION_JUDGE_BASE_URL="http://127.0.0.1:8010/v1",
        EVALUATION_JUDGE_MODEL_ID="judge-70b",
        EVALUATION_JUDGE_API_KEY="judge-key",
        EVALUATION_JUDGE_TIMEOUT_S=30,
    )
    assert "judge-key" not in repr(settings)
    monkeypatch.setattr(llm_builders, "get_settings", lambda: settings)  # the default is the process settings
    judge = bootstrap.build_evaluation_judge()
    assert judge is not None and judge.model_id == "judge-70b"
    assert judge.llm.api_key == "judge-key"  # type: ignore[attr-defined]
    assert judge.llm.timeout.read == 30  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "value"), [("EVALUATION_JUDGE_BASE_URL", "judge:8000"), ("EVALUATION_JUDGE_MAX_WORKERS", "0")]
)
def test_invalid_judge_settings_name_the_variable(tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        settings_with(tmp_path)
