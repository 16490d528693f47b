"""The capability cache file and the model key its verdicts are filed under."""

from __future__ import annotations

import json
import os

import httpx
import pytest

from llm_engineering.application.errors import LLMUnavailableError
from llm_engineering.application.llm.retry import RetryPolicy
from llm_engineering.application.rag.capabilities import ProbeResult, Verdict
from llm_engineering.infrastructure.llm.model_identity import (
    files_fingerprint,
    local_model_path,
    model_key,
    served_fingerprint,
)
from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient
from llm_engineering.infrastructure.probe_verdicts import JsonVerdictStore

FAILED = Verdict("p1", ProbeResult(False, "0 of 2 rewordings usable"), "2025-01-31")


def test_verdicts_survive_a_new_store_on_the_same_file(tmp_path):
    path = tmp_path / "cache" / "capabilities.json"
    JsonVerdictStore(path).save("http://llm/v1 twin files:abc", "query expansion", FAILED)
    again = JsonVerdictStore(path)
    assert again.load("http://llm/v1 twin files:abc", "query expansion") == FAILED
    assert again.load("http://llm/v1 twin files:abc", "self-query") is None
    assert again.load("http://llm/v1 twin files:other", "query expansion") is None
    content = json.loads(path.read_text())
    assert content["version"] == 1 and list(content["models"]) == ["http://llm/v1 twin files:abc"]
    assert [item.name for item in path.parent.iterdir()] == ["capabilities.json"]  # no temp file left


def test_a_broken_or_unwritable_cache_is_an_empty_one(tmp_path):
    path = tmp_path / "capabilities.json"
    path.write_text("{not json")
    store = JsonVerdictStore(path)
    assert store.load("key", "self-query") is None
    store.save("key", "self-query", FAILED)  # replaces the broken file
    assert store.load("key", "self-query") == FAILED

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    unwritable = JsonVerdictStore(blocked / "capabilities.json")  # its folder cannot be created
    unwritable.save("key", "self-query", FAILED)  # logged, not raised
    assert unwritable.load("key", "self-query") is None


def test_a_model_folder_fingerprint_follows_its_files(tmp_path):
    folder = tmp_path / ".local" / "models" / "twin"  # LOCAL_DATA_DIR is a hidden folder by default
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden_size": 640}')
    (folder / ".cache").mkdir()
    (folder / ".cache" / "lock").write_text("")  # hidden files inside the model folder do not count
    weights = folder / "model.safetensors"
    weights.write_bytes(b"w" * (3 << 20))  # large: sampled, with its size and modification time
    first = files_fingerprint(folder)
    assert files_fingerprint(folder) == first

    (folder / "config.json").write_text('{"hidden_size": 1024}')
    assert files_fingerprint(folder) != first

    (folder / "config.json").write_text('{"hidden_size": 640}')
    (folder / ".cache" / "lock").write_text("held")
    assert files_fingerprint(folder) == first
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # rewritten, same bytes
    assert files_fingerprint(folder) != first


def test_local_files_count_only_for_a_server_on_this_machine(tmp_path):
    models = tmp_path / "models"
    (models / "twin").mkdir(parents=True)
    (models / "base.gguf").write_bytes(b"GGUF")
    (models / "gguf").mkdir()
    (models / "gguf" / "twin-v2.gguf").write_bytes(b"GGUF")  # a twin exported for llama.cpp
    assert local_model_path(models, "twin", "http://127.0.0.1:8001/v1") == (models / "twin").resolve()
    assert local_model_path(models, "base", "http://localhost:8001/v1") == (models / "base.gguf").resolve()
    assert (
        local_model_path(models, "twin-v2", "http://127.0.0.1:8001/v1") == (models / "gguf" / "twin-v2.gguf").resolve()
    )
    assert local_model_path(models, "twin", "https://api.example.com/v1") is None
    assert local_model_path(models, "missing", "http://127.0.0.1:8001/v1") is None
    assert local_model_path(models, "org/twin", "http://127.0.0.1:8001/v1") is None


def test_the_served_fingerprint_is_the_models_entry_without_volatile_fields():
    entry = {"id": "twin", "object": "model", "owned_by": "vllm", "max_model_len": 4096}
    now = served_fingerprint({"data": [{**entry, "created": 1}, {"id": "other", "created": 1}]}, "twin")
    later = served_fingerprint({"data": [{**entry, "created": 2}]}, "twin")
    assert now == later
    assert served_fingerprint({"data": [{**entry, "max_model_len": 8192}]}, "twin") != now
    assert served_fingerprint({"data": [{"id": "a"}, {"id": "b"}]}, "twin") != now  # ours not listed: the ids
    assert served_fingerprint(None, "twin") == "no-model-list"


def _client(handler) -> OpenAICompatibleClient:
    return OpenAICompatibleClient(
        "http://127.0.0.1:8001/v1",
        "twin",
        transport=httpx.MockTransport(handler),
        retry_policy=RetryPolicy(max_retries=0),
    )


def test_the_model_key_names_url_model_files_and_served_entry(tmp_path):
    folder = tmp_path / "twin"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    served = {"data": [{"id": "twin", "owned_by": "llm-twin"}]}
    client = _client(lambda request: httpx.Response(200, json=served))
    key = model_key(client, folder)
    assert key.startswith("http://127.0.0.1:8001/v1 twin files:") and " served:" in key
    # The same files under another engine (another /models entry) are another model.
    other_engine = _client(lambda request: httpx.Response(200, json={"data": [{"id": "twin", "owned_by": "hf"}]}))
    assert model_key(other_engine, folder) != key
    # A server without the route still has a key; one that cannot be reached gives none.
    assert "served:no-model-list" in model_key(_client(lambda request: httpx.Response(404)), None)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(LLMUnavailableError):
        model_key(_client(refused), folder)
