"""The web UI's pages: rendered from templates with a strict Content-Security-Policy, static files served
locally (no CDN), the token field only when a token is configured, and nothing when the UI is off."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from llm_engineering.bootstrap import Container
from llm_engineering.entrypoints.api import create_app
from llm_engineering.settings import load_settings


def _client(tmp_path, **values) -> TestClient:
    settings = load_settings(env_file=tmp_path / "none.env", **values)
    app = create_app(settings, container=Container(settings), warm_up_on_start=False)
    return TestClient(app, base_url="http://127.0.0.1:8000")


@pytest.mark.parametrize(
    ("path", "heading"), [("/", "Ask the twin"), ("/authors", "Authors and links"), ("/models", "Models")]
)
def test_pages_render_with_a_strict_policy(tmp_path, path, heading):
    response = _client(tmp_path).get(path)
    assert response.status_code == 200
    assert f"<h1>{heading}</h1>" in response.text
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    # Every script and stylesheet is local: the UI works offline.
    for reference in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', response.text):
        assert reference.startswith("/ui/static/")


def test_static_files_are_served(tmp_path):
    client = _client(tmp_path)
    for name in ("app.css", "common.js", "chat.js", "authors.js", "models.js"):
        assert client.get(f"/ui/static/{name}").status_code == 200


def test_scripts_never_write_html_from_data(tmp_path):
    client = _client(tmp_path)
    for name in ("common.js", "chat.js", "authors.js", "models.js"):
        assert "innerHTML" not in client.get(f"/ui/static/{name}").text


def test_chat_form_defaults_come_from_settings(tmp_path):
    page = _client(tmp_path, RAG_TOP_K=7, RAG_MAX_QUERY_CHARS=123).get("/").text
    assert 'name="k" min="1" max="50" value="7"' in page
    assert 'maxlength="123"' in page


def test_token_field_only_when_a_token_is_set(tmp_path):
    assert 'id="token"' not in _client(tmp_path).get("/authors").text
    page = _client(tmp_path, API_UI_TOKEN="s3cret").get("/authors").text
    assert 'id="token"' in page and "s3cret" not in page


def test_ui_off_removes_pages_and_static_files(tmp_path):
    client = _client(tmp_path, API_ENABLE_UI=False)
    assert client.get("/").status_code == 404
    assert client.get("/ui/static/chat.js").status_code == 404
    assert client.get("/health").status_code == 200
