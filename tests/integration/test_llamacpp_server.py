"""The llama.cpp engine for real: the packaged Gemma 3 270M GGUF served by the project's launcher on 127.0.0.1
(one slot, one thread), asked through the project's OpenAI-compatible client: a completion cut at a stop
sequence, a streamed chat, and a request abandoned at the caller's deadline that must stop generating."""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from llm_engineering.application.deadline import Deadline, within
from llm_engineering.application.errors import DeadlineExceededError
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters
from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient
from llm_engineering.infrastructure.local.llm_server import LlamaCppServer
from llm_engineering.infrastructure.local.processes import free_port
from tests.waiting import CEILING_S, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="llama-cpp-python is not installed (bash scripts/setup.sh builds it; LOCAL_LLM_ENGINE=transformers "
        "is the fallback engine)",
    ),
]

MODEL_ID = "gemma-3-270m-twin"
COUNTING = "Counting: 1, 2, 3, 4, 5,"


@pytest.fixture(scope="module")
def llamacpp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppServer]:
    workdir = tmp_path_factory.mktemp("llamacpp")
    server = LlamaCppServer(
        workdir / "models" / MODEL_ID,
        port=free_port(),
        run_dir=workdir / "run",
        context_size=2048,
        parallel=1,  # one slot: a request that kept generating would hold up the next one
        threads=1,
        max_tokens=16,
    )
    server.prepare()  # the packaged GGUF, joined into workdir/models/gguf; nothing de-quantized
    assert server.gguf_path is not None and server.gguf_path.suffix == ".gguf"
    assert not (workdir / "models" / MODEL_ID).exists()
    server.start(timeout_s=CEILING_S)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(llamacpp_server) -> Iterator[OpenAICompatibleClient]:
    client = OpenAICompatibleClient(llamacpp_server.url, MODEL_ID, timeout_s=120)
    yield client
    client.close()


def test_a_completion_stops_at_a_stop_sequence(client):
    parameters = GenerationParameters(max_new_tokens=16, temperature=0.0, top_p=1.0, stop=(" 8",))
    response = client.complete(COUNTING, parameters)
    assert response.text.startswith(" 6") and "7" in response.text and "8" not in response.text
    assert response.finish_reason == "stop"
    assert response.completion_tokens is not None and 1 <= response.completion_tokens < 16
    assert response.prompt_tokens is not None and response.prompt_tokens > 5


def test_a_streamed_chat_comes_in_pieces_with_usage(client):
    parameters = GenerationParameters(max_new_tokens=12, temperature=0.0, top_p=1.0, repetition_penalty=1.1)
    stream = client.stream_chat([ChatMessage("user", "Count from 1 to 20.")], parameters)
    deltas = []
    while True:
        try:
            deltas.append(next(stream))
        except StopIteration as done:
            response = done.value
            break
    assert len(deltas) >= 2 and response.text == "".join(deltas)
    assert response.completion_tokens is not None and 1 <= response.completion_tokens <= 12
    assert response.prompt_tokens is not None and response.prompt_tokens > 20  # the template's preamble counts
    assert client.stream_usage_supported


def test_min_tokens_holds_the_end_of_text_back(client):
    messages = [ChatMessage("user", "Answer with one word: is water wet?")]
    free = client.chat(messages, GenerationParameters(max_new_tokens=24, temperature=0.0, top_p=1.0))
    held = client.chat(messages, GenerationParameters(max_new_tokens=24, min_new_tokens=24, temperature=0.0, top_p=1.0))
    assert client.min_tokens_supported
    assert held.completion_tokens == 24 and held.finish_reason == "length"
    if free.finish_reason == "stop":  # the model ends early by itself: the floor is what kept it writing
        assert free.completion_tokens is not None and free.completion_tokens < 24


def test_a_request_abandoned_at_the_deadline_stops_generating(llamacpp_server, client):
    """The API closes the connection at its deadline; the server must drop the work then, so the next request
    (same single slot) is answered at once instead of after ~2000 tokens nobody reads."""
    endless = GenerationParameters(max_new_tokens=100_000, temperature=0.0, top_p=1.0)
    started = time.perf_counter()
    with pytest.raises(DeadlineExceededError), within(Deadline(1.5)):
        client.complete(COUNTING, endless)  # counts on and on: no EOS
    assert time.perf_counter() - started < 5

    started = time.perf_counter()
    response = client.complete("Hello", GenerationParameters(max_new_tokens=2, temperature=0.0, top_p=1.0))
    waited = time.perf_counter() - started
    print(f"next request answered in {waited:.2f}s after the abandoned one")
    assert response.completion_tokens is not None and response.completion_tokens <= 2
    assert waited < 10  # uncancelled, the abandoned request would hold the slot for ~2000 tokens

    log = llamacpp_server.log_file.read_text()
    cancelled = re.findall(r"(\d+) generated tokens in ([\d.]+)s .*cancelled", log)
    assert cancelled, log[-2000:]
    generated, seconds = int(cancelled[-1][0]), float(cancelled[-1][1])
    print(f"abandoned request: cancelled after {generated} tokens, {seconds:.2f}s after it started")
    assert generated < 1000 and seconds < 5


def test_a_request_that_left_while_waiting_is_never_generated(llamacpp_server, client):
    """With the only slot busy, a second request whose client gives up while waiting takes no turn."""
    import threading

    generating = threading.Event()

    def busy_request() -> None:
        body = {"prompt": COUNTING, "max_tokens": 80, "temperature": 0.0, "top_p": 1.0, "stream": True}
        with (
            httpx.Client(trust_env=False, timeout=CEILING_S) as http,
            http.stream("POST", f"{llamacpp_server.url}/completions", json=body) as response,
        ):
            for line in response.iter_lines():
                if line.startswith("data:"):
                    generating.set()  # a token came out: the only slot is taken

    busy = threading.Thread(target=busy_request)
    busy.start()
    assert generating.wait(CEILING_S), "the first request never started generating"
    with (
        httpx.Client(trust_env=False, timeout=httpx.Timeout(0.5, connect=CEILING_S)) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post(f"{llamacpp_server.url}/completions", json={"prompt": "Hi", "max_tokens": 500})
    busy.join(timeout=CEILING_S)
    wait_until(
        lambda: "left while waiting for a slot" in llamacpp_server.log_file.read_text(),
        lambda: f"the server never logged the request that left:\n{llamacpp_server.log_file.read_text()[-2000:]}",
    )
    assert "left while waiting for a slot; not generated" in llamacpp_server.log_file.read_text()
    assert ", 500 generated" not in llamacpp_server.log_file.read_text()


def test_models_and_health(llamacpp_server, client):
    client.ping()
    with httpx.Client(trust_env=False, timeout=CEILING_S) as http:
        assert http.get(llamacpp_server.health_url).json()["engine"] == "llama.cpp"
        assert [model["id"] for model in http.get(f"{llamacpp_server.url}/models").json()["data"]] == [MODEL_ID]
    assert llamacpp_server.status().healthy
