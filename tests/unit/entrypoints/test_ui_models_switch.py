"""The /models page's buttons behind the scenes: `POST /ui/api/models/serve` and `/promote` run the CLI's use
cases with their checks, answer refusals in plain words, keep the UI's write protections, and the service's
LLM client asks the new model from the next request on."""

from __future__ import annotations

import json

import pytest

from llm_engineering.model.registry import ModelRegistry
from tests.fixtures.memory_warehouse import memory_warehouse  # noqa: F401  (fixtures are found by name)
from tests.unit.entrypoints.test_ui_api import BASE_URL, make_client  # noqa: F401
from tests.unit.model.test_registry import register


@pytest.fixture
def twins(tmp_path):
    """`llm_twin` v1 (production) and v2, Gemma 3 twins as far as their configs tell."""
    registry = ModelRegistry(tmp_path / "registry")
    for _ in range(2):
        registered = register(registry, tmp_path, name="llm_twin")
        (registered.merged_dir / "config.json").write_text(json.dumps({"model_type": "gemma3_text"}))
    registry.promote("llm_twin", 1)
    return registry


def _post(client, kind: str, model: str, **headers):
    return client.post(f"/ui/api/models/{kind}", json={"model": model}, headers={"Origin": BASE_URL, **headers})


def test_serve_a_version_records_it_and_the_next_request_asks_it(make_client, twins, tmp_path):  # noqa: F811 - the fixture imported above
    client = make_client()
    before = client.get("/ui/api/models").json()
    assert before["llm"]["model_id"] == "llm_twin-v1" and before["served"]["source"] == "production"
    assert [version["served"] for version in before["registered"]] == [False, True]

    response = _post(client, "serve", "llm_twin:v2")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["served"]["model_id"] == "llm_twin-v2" and body["served"]["by"] == "web UI"
    assert "The API asks llm_twin-v2 from its next request on" in body["message"]
    assert json.loads((tmp_path / "models" / "served.json").read_text())["spec"] == "llm_twin:v2"
    assert (tmp_path / "models" / "llm_twin-v2").is_symlink()
    after = client.get("/ui/api/models").json()
    assert after["llm"]["model_id"] == "llm_twin-v2" and after["served"]["why"] == "chosen"
    assert [version["served"] for version in after["registered"]] == [True, False]
    # The service's own LLM client: the model of its next request.
    assert client.app.state.service.container.llm().model_id == "llm_twin-v2"

    assert _post(client, "serve", "base").status_code == 200
    assert client.get("/ui/api/models").json()["llm"]["model_id"] == "gemma-3-270m-twin"


@pytest.mark.parametrize(
    ("model", "detail"),
    [
        ("llm_twin:v7", "Model 'llm_twin' has no version v7; it has v1, v2."),
        ("ghost", "No model 'ghost' in the registry"),
        ("/etc/passwd", "is a path; the served model is a registered version"),
    ],
)
def test_what_cannot_be_served_is_refused_in_plain_words(make_client, twins, tmp_path, model, detail):  # noqa: F811 - the fixture imported above
    response = _post(make_client(), "serve", model)
    assert response.status_code == 422 and detail in response.json()["detail"]
    assert not (tmp_path / "models" / "served.json").exists()


def test_a_twin_llamacpp_cannot_serve_is_refused_with_the_reason(make_client, tmp_path):  # noqa: F811 - the fixture imported above
    registry = ModelRegistry(tmp_path / "registry")
    register(registry, tmp_path, name="llm_twin")  # a Llama config: not a fine-tune of the packaged Gemma 3
    response = _post(make_client(LOCAL_LLM_ENGINE="llamacpp"), "serve", "llm_twin:v1")
    if response.status_code == 200:
        pytest.skip("llama-cpp-python is not installed: the transformers engine serves any merged folder")
    assert response.status_code == 422
    assert "cannot be served by the llama.cpp engine" in response.json()["detail"]


def test_mark_production(make_client, twins):  # noqa: F811 - the fixture imported above
    client = make_client()
    response = _post(client, "promote", "llm_twin:v2")
    assert response.status_code == 200, response.text
    assert response.json()["production"] == "llm_twin:v2"
    listed = client.get("/ui/api/models").json()["registered"]
    assert [(version["spec"], version["production"]) for version in listed] == [
        ("llm_twin:v2", True),
        ("llm_twin:v1", False),
    ]
    assert twins.promoted("llm_twin").version == 2
    refused = _post(client, "promote", "base")
    assert refused.status_code == 422 and "base model cannot be promoted" in refused.json()["detail"]


@pytest.mark.parametrize("kind", ["serve", "promote"])
@pytest.mark.parametrize(
    ("headers", "status"),
    [({"Origin": "http://evil.example"}, 403), ({"Sec-Fetch-Site": "cross-site", "Origin": None}, 403)],
)
def test_switches_are_same_origin_only(make_client, twins, tmp_path, kind, headers, status):  # noqa: F811 - the fixture imported above
    client = make_client()
    sent = {"Origin": BASE_URL, **headers}
    response = client.post(
        f"/ui/api/models/{kind}",
        json={"model": "llm_twin:v2"},
        headers={name: value for name, value in sent.items() if value is not None},
    )
    assert response.status_code == status
    assert not (tmp_path / "models" / "served.json").exists() and twins.promoted("llm_twin").version == 1


def test_a_configured_token_is_required_for_switches(make_client, twins):  # noqa: F811 - the fixture imported above
    client = make_client(API_UI_TOKEN="s3cret-token")
    assert _post(client, "serve", "llm_twin:v2").status_code == 401
    assert _post(client, "serve", "llm_twin:v2", **{"X-Twin-Token": "s3cret-token"}).status_code == 200


def test_a_bad_body_is_a_one_line_422(make_client):  # noqa: F811 - the fixture imported above
    response = make_client().post("/ui/api/models/serve", json={"model": ""}, headers={"Origin": BASE_URL})
    assert response.status_code == 422 and response.json()["detail"].startswith("model: ")
