"""The llama.cpp engine's HTTP layer over a fake model (no llama_cpp needed): OpenAI response shapes, the
request fields mapped to llama.cpp's sampling, streaming, errors; and the slot line that drops a request whose
client left while it waited."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from llm_engineering.infrastructure.errors import PromptTooLongError
from llm_engineering.infrastructure.llamacpp.engine import EngineConfig, GGUFModel, Outcome, Sampling, Slot, ThreadShare
from llm_engineering.infrastructure.llamacpp.server import ModelCatalog, create_app


class FakeModel:
    """Stands for `GGUFModel`: one token per message or per word, a reply of two pieces."""

    def __init__(self, model_id: str = "twin", context_size: int = 50, pieces: tuple[str, ...] = ("Hello", " world")):
        self.model_id = model_id
        self.context_size = context_size
        self.pieces = pieces
        self.sampling: list[Sampling] = []
        self.prompts: list[object] = []

    def chat_tokens(self, messages):
        self.prompts.append(messages)
        return list(range(sum(len(m["content"].split()) for m in messages)))

    def prompt_tokens(self, prompt):
        self.prompts.append(prompt)
        return list(range(len(prompt.split())))

    def check_fits(self, tokens):
        if len(tokens) >= self.context_size:
            raise PromptTooLongError(f"The prompt has {len(tokens)} tokens")

    async def acquire(self, gone):
        return Slot(llm=None, index=0)

    def release(self, slot):
        pass

    def generate(self, slot, tokens, sampling, cancel, emit):
        self.sampling.append(sampling)
        for piece in self.pieces:
            emit(piece)
        return Outcome("stop", len(tokens), len(self.pieces), 0.01, 0.02)

    def close(self):
        pass


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def client(model, tmp_path) -> TestClient:
    catalog = ModelCatalog(EngineConfig(threads=1), models_dir=tmp_path / "models", default_max_tokens=99)
    catalog.add(model)
    return TestClient(create_app(catalog))


def test_chat_completion_has_openai_shape_and_usage(client, model):
    response = client.post(
        "/v1/chat/completions",
        json={"model": "twin", "messages": [{"role": "user", "content": "write about rag"}], "max_tokens": 7},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "twin"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Hello world"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert model.sampling[0].max_tokens == 7


def test_openai_fields_map_to_llama_cpp_sampling(client, model):
    """`frequency_penalty` is taken as `transformers serve` takes it (repetition penalty = 1 + value), so the
    client's repetition_penalty means the same on both engines; top_k and min_p are off unless asked."""
    client.post(
        "/v1/completions",
        json={
            "prompt": "the model",
            "temperature": 0.0,
            "top_p": 0.9,
            "frequency_penalty": 0.1,
            "stop": "###",
            "seed": 3,
            "response_format": {"type": "json_object"},
            "unknown_field": "ignored",
        },
    )
    client.post("/v1/completions", json={"prompt": "x", "repetition_penalty": 1.3, "stop": ["a", "", "b"]})
    first, second = model.sampling
    assert first == Sampling(
        max_tokens=99,
        temperature=0.0,
        top_p=0.9,
        top_k=0,
        min_p=0.0,
        repeat_penalty=1.1,
        stop=("###",),
        seed=3,
        json_object=True,
    )
    assert second.repeat_penalty == 1.3 and second.stop == ("a", "b") and not second.json_object


def test_text_completion_shape_and_one_prompt_only(client, model):
    body = client.post("/v1/completions", json={"prompt": ["the model"], "max_tokens": 2}).json()
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"] == "Hello world"
    assert model.prompts == ["the model"]
    response = client.post("/v1/completions", json={"prompt": ["a", "b"]})
    assert response.status_code == 400 and "one prompt" in response.json()["error"]["message"]


def _events(response) -> list:
    data = [line[len("data: ") :] for line in response.text.splitlines() if line.startswith("data: ")]
    return [item if item == "[DONE]" else json.loads(item) for item in data]


def test_streamed_chat_sends_role_deltas_finish_and_usage(client):
    with client.stream(
        "POST",
        "/v1/chat/completions",
        json={
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ) as response:
        response.read()
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response)
    assert events[-1] == "[DONE]"
    role, first, second, finish, usage = events[:-1]
    assert role["choices"][0]["delta"]["role"] == "assistant"
    assert [first["choices"][0]["delta"]["content"], second["choices"][0]["delta"]["content"]] == ["Hello", " world"]
    assert finish["choices"][0]["finish_reason"] == "stop" and finish["object"] == "chat.completion.chunk"
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 2


def test_streamed_completion_without_usage(client):
    response = client.post("/v1/completions", json={"prompt": "a b", "stream": True})
    events = _events(response)
    assert [event["choices"][0]["text"] for event in events[:-1]] == ["Hello", " world", ""]
    assert all("usage" not in event for event in events[:-1])


def test_unknown_model_and_a_hugging_face_folder_are_404_with_the_reason(client, tmp_path):
    response = client.post("/v1/completions", json={"model": "ghost", "prompt": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found" and "served: twin" in response.text
    (tmp_path / "models" / "hf-twin").mkdir(parents=True)
    (tmp_path / "models" / "hf-twin" / "config.json").write_text("{}")
    response = client.post("/v1/completions", json={"model": "hf-twin", "prompt": "x"})
    assert response.status_code == 404 and "LOCAL_LLM_ENGINE=transformers" in response.text


def test_a_prompt_longer_than_the_context_is_400(client):
    response = client.post("/v1/completions", json={"prompt": "word " * 60})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"


def test_bad_fields_are_422_and_naming_them(client):
    response = client.post("/v1/completions", json={"prompt": "x", "response_format": {"type": "json_schema"}})
    assert response.status_code == 422 and "response_format" in response.text
    assert client.post("/v1/completions", json={"prompt": "x", "n": 2}).status_code == 422


def test_health_and_models(client):
    assert client.get("/health").json() == {"status": "ok", "engine": "llama.cpp", "models": ["twin"]}
    assert [model["id"] for model in client.get("/v1/models").json()["data"]] == ["twin"]


def test_a_model_folder_with_a_gguf_file_is_loaded_on_first_use(tmp_path, monkeypatch):
    loaded = []

    def fake_load(self, model_id, path):
        loaded.append((model_id, path.name))
        model = FakeModel(model_id)
        self.add(model)
        return model

    monkeypatch.setattr(ModelCatalog, "load", fake_load)
    catalog = ModelCatalog(EngineConfig(threads=1), models_dir=tmp_path)
    catalog.add(FakeModel("base"))
    (tmp_path / "twin-v1").mkdir()
    (tmp_path / "twin-v1" / "model-q8_0.gguf").write_bytes(b"GGUF")
    client = TestClient(create_app(catalog))
    for _ in range(2):
        response = client.post("/v1/completions", json={"model": "twin-v1", "prompt": "x"})
        assert response.status_code == 200 and response.json()["model"] == "twin-v1"
    assert loaded == [("twin-v1", "model-q8_0.gguf")]
    assert client.post("/v1/completions", json={"prompt": "x"}).json()["model"] == "base"  # the first one added

    (tmp_path / "twin-v2").mkdir()  # a published Hugging Face twin, exported by `local-llm-up --model`
    (tmp_path / "gguf").mkdir()
    (tmp_path / "gguf" / "twin-v2.gguf").write_bytes(b"GGUF")
    assert client.post("/v1/completions", json={"model": "twin-v2", "prompt": "x"}).status_code == 200
    assert loaded[-1] == ("twin-v2", "twin-v2.gguf")
    response = client.post("/v1/completions", json={"model": "../gguf", "prompt": "x"})
    assert response.status_code == 404


def _model_with_slots(count: int) -> GGUFModel:
    model = object.__new__(GGUFModel)  # the slot line only; no llama.cpp
    model.slots = [Slot(llm=None, index=index) for index in range(count)]
    model._free = None
    return model


def test_a_request_whose_client_left_while_waiting_gets_no_slot_and_takes_none():
    async def scenario():
        model = _model_with_slots(1)
        busy = await model.acquire(asyncio.Event())
        gone = asyncio.Event()
        waiting = asyncio.create_task(model.acquire(gone))
        await asyncio.sleep(0.01)
        gone.set()  # the client disconnects while the only slot is busy
        assert await waiting is None
        model.release(busy)
        again = await asyncio.wait_for(model.acquire(asyncio.Event()), 1)  # the slot was not lost
        assert again is busy and model.busy_slots() == 1
        gone_before = asyncio.Event()
        gone_before.set()
        model.release(again)
        assert await model.acquire(gone_before) is None and model.busy_slots() == 0

    asyncio.run(scenario())


def test_waiting_requests_get_slots_in_turn():
    async def scenario():
        model = _model_with_slots(2)
        first, second = await model.acquire(asyncio.Event()), await model.acquire(asyncio.Event())
        third = asyncio.create_task(model.acquire(asyncio.Event()))
        await asyncio.sleep(0.01)
        assert not third.done()
        model.release(second)
        assert await asyncio.wait_for(third, 1) is second
        assert first is not second

    asyncio.run(scenario())


def test_busy_slots_share_the_threads():
    share = ThreadShare(4)
    assert share.share() == 4
    with share.busy():
        assert share.share() == 4
        with share.busy(), share.busy():
            assert share.share() == 1  # 4 // 3
    assert ThreadShare(1).share() == 1 and ThreadShare(0).total == 1


def test_auto_threads_are_the_physical_cores_and_give_way_to_other_load(monkeypatch):
    monkeypatch.setattr("llm_engineering.infrastructure.llamacpp.engine.physical_cores", lambda: 4)
    assert EngineConfig(threads=0).total_threads() == 4 and EngineConfig(threads=5).total_threads() == 5
    fixed = EngineConfig(threads=5).thread_share()
    assert fixed.others_busy is None and fixed.share() == 5
    assert EngineConfig(threads=0).thread_share().others_busy is not None


def test_a_share_leaves_the_cores_other_processes_use():
    others = [0.0]
    share = ThreadShare(2, others_busy=lambda: others[0])
    with share.busy():
        assert share.share() == 2
        others[0] = 1.2  # a test suite beside the server: one core left
        assert share.share() == 1
        others[0] = 2.0
        assert share.share() == 1  # never below one
        with share.busy():
            others[0] = 0.0
            assert share.share() == 1  # two slots on two cores
