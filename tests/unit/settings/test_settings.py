from pathlib import Path

import pytest

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in (
        "DATABASE_HOST",
        "DATABASE_NAME",
        "QDRANT_URL",
        "QDRANT_DATABASE_HOST",
        "USE_QDRANT_CLOUD",
        "QDRANT_DATABASE_PORT",
        "LOCAL_DATA_DIR",
        "QDRANT_LOCAL_PATH",
        "LLM_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_local_defaults(tmp_path):
    settings = load_settings(env_file=tmp_path / "missing.env")
    assert settings.DATABASE_HOST == "mongodb://127.0.0.1:27017"
    assert settings.DATABASE_NAME == "twin"
    assert settings.TEXT_EMBEDDING_MODEL_ID == "sentence-transformers/all-MiniLM-L6-v2"
    assert settings.qdrant_mode == "local"
    assert settings.qdrant_server_url is None
    assert settings.qdrant_local_path == Path(".local/qdrant")


def test_env_file_is_read_and_environment_wins(tmp_path, monkeypatch):
    env_file = tmp_path / "custom.env"
    env_file.write_text("DATABASE_NAME=from_file\nQDRANT_URL=http://qdrant:6333/\nLOCAL_DATA_DIR=/data\n")
    monkeypatch.setenv("DATABASE_NAME", "from_env")
    settings = load_settings(env_file=env_file)
    assert settings.DATABASE_NAME == "from_env"
    assert settings.qdrant_mode == "server"
    assert settings.qdrant_server_url == "http://qdrant:6333"
    assert settings.warehouse_local_file == Path("/data/warehouse/twin.sqlite")


def test_env_file_variable_selects_the_file(tmp_path, monkeypatch):
    env_file = tmp_path / "testing.env"
    env_file.write_text("DATABASE_NAME=testing\n")
    monkeypatch.setenv("ENV_FILE", str(env_file))
    assert load_settings().DATABASE_NAME == "testing"


def test_book_host_and_port_select_a_server(tmp_path, monkeypatch):
    monkeypatch.setenv("QDRANT_DATABASE_HOST", "localhost")
    monkeypatch.setenv("QDRANT_DATABASE_PORT", "6335")
    settings = load_settings(env_file=tmp_path / "none.env")
    assert settings.qdrant_server_url == "http://localhost:6335"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QDRANT_DATABASE_PORT", "not-a-port"),
        ("QDRANT_DATABASE_PORT", "70000"),
        ("DATABASE_HOST", "postgres://127.0.0.1"),
        ("LLM_BASE_URL", "127.0.0.1:8000"),
        ("TOP_P_INFERENCE", "1.5"),
    ],
)
def test_invalid_values_fail_naming_the_variable(tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings(env_file=tmp_path / "none.env")


def test_cloud_needs_url_and_key_and_secrets_are_not_echoed(tmp_path, monkeypatch):
    monkeypatch.setenv("USE_QDRANT_CLOUD", "true")
    with pytest.raises(ImproperlyConfigured, match="QDRANT_CLOUD_URL"):
        load_settings(env_file=tmp_path / "none.env")
    monkeypatch.setenv("QDRANT_CLOUD_URL", "https://cluster.cloud.qdrant.io")
    monkeypatch.setenv("QDRANT_APIKEY", "super-secret-key")
    settings = load_settings(env_file=tmp_path / "none.env")
    assert settings.qdrant_mode == "cloud"
    assert "super-secret-key" not in repr(settings)


def test_env_example_documents_every_setting():
    from llm_engineering.settings import Settings

    example = (Path(__file__).resolve().parents[3] / ".env.example").read_text()
    missing = [name for name in Settings.model_fields if name not in example]
    assert missing == []


def test_every_llm_attempt_must_fit_in_the_request_deadline(tmp_path, monkeypatch):
    defaults = load_settings(env_file=tmp_path / "none.env")
    assert defaults.LLM_TIMEOUT_S * (defaults.LLM_MAX_RETRIES + 1) <= defaults.API_REQUEST_TIMEOUT_S
    monkeypatch.setenv("LLM_TIMEOUT_S", "120")
    monkeypatch.setenv("LLM_API_KEY", "super-secret-key")
    with pytest.raises(
        ImproperlyConfigured, match=r"LLM_TIMEOUT_S \(120s\) x 3 attempts .* API_REQUEST_TIMEOUT_S"
    ) as raised:
        load_settings(env_file=tmp_path / "none.env")
    assert "super-secret-key" not in str(raised.value)  # a rule across settings echoes no input
    monkeypatch.setenv("API_REQUEST_TIMEOUT_S", "360")
    assert load_settings(env_file=tmp_path / "none.env").LLM_MAX_CONCURRENT_REQUESTS == 4
