"""The local LLM server: the chat template it serves must produce the training prompt format, its command
pins the model folder, it is built from the settings in one place, and the engine is llama.cpp unless
LOCAL_LLM_ENGINE says transformers or llama-cpp-python cannot be imported (then with a message)."""

from pathlib import Path

import jinja2
import pytest

from llm_engineering.bootstrap import local_engine_options, uses_local_llm
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.domain.prompts import (
    INSTRUCTION_CHAT_TEMPLATE,
    INSTRUCTION_PREAMBLE,
    RESPONSE_HEADER,
    QueryExpansionPrompt,
    format_instruction_prompt,
    format_self_query_prompt,
)
from llm_engineering.infrastructure.errors import LocalLLMError
from llm_engineering.infrastructure.local import llm_server
from llm_engineering.infrastructure.local.llm_server import (
    LlamaCppServer,
    LocalLLMServer,
    local_llm_server,
)
from llm_engineering.settings import load_settings


def _render(messages, add_generation_prompt=True):
    environment = jinja2.Environment(extensions=["jinja2.ext.loopcontrols"])
    return environment.from_string(INSTRUCTION_CHAT_TEMPLATE).render(
        messages=messages, add_generation_prompt=add_generation_prompt, eos_token="</s>"
    )


def test_chat_template_matches_the_training_format_for_a_generation_prompt():
    rendered = _render([{"role": "user", "content": "Write about chunking."}])
    assert rendered == format_instruction_prompt("Write about chunking.")


def test_chat_template_starts_with_bos_like_a_tokenized_training_prompt():
    environment = jinja2.Environment(extensions=["jinja2.ext.loopcontrols"])
    rendered = environment.from_string(INSTRUCTION_CHAT_TEMPLATE).render(
        messages=[{"role": "user", "content": "Write about chunking."}],
        add_generation_prompt=True,
        bos_token="<bos>",
        eos_token="<eos>",
    )
    assert rendered == "<bos>" + format_instruction_prompt("Write about chunking.")


def test_training_sample_ends_with_eos_and_system_replaces_the_preamble():
    rendered = _render(
        [
            {"role": "system", "content": "Custom preamble."},
            {"role": "user", "content": "Q"},
            {"role": "assistant", "content": "A"},
        ],
        add_generation_prompt=False,
    )
    assert rendered.startswith("Custom preamble.\n\n")
    assert INSTRUCTION_PREAMBLE not in rendered
    assert f"{RESPONSE_HEADER}\nA</s>" in rendered


def test_format_with_input_and_response():
    prompt = format_instruction_prompt("Summarise", context="Some text", response="A summary")
    assert prompt.endswith(f"### Input:\nSome text\n\n{RESPONSE_HEADER}\nA summary")


def test_rag_helper_prompts_embed_the_question():
    assert "Question: Is it?" in QueryExpansionPrompt(2).render("  Is it? ")
    assert format_self_query_prompt("Who am I?").endswith("Question: Who am I?\nAnswer:")


def test_server_command_pins_the_folder_name_and_status_without_a_server(tmp_path):
    server = LocalLLMServer(tmp_path / "models" / "twin", port=1, run_dir=tmp_path / "run")
    command = server.command()
    assert command[1:3] == ["serve", "twin"]
    assert command[command.index("--port") + 1] == "1"
    assert server.served_model_id == "twin"
    assert server.status().describe().startswith("local LLM: DOWN")
    assert server.stop() == "local LLM: not started by this project"
    assert Path(command[0]).name == "transformers"


def test_from_options_maps_the_model_id_to_a_folder_port_and_run_dir(tmp_path):
    settings = load_settings(LOCAL_DATA_DIR=tmp_path, LLM_MODEL_ID="twin-model", LOCAL_LLM_PORT=8123)
    server = LocalLLMServer.from_options(local_engine_options(settings))
    assert server.model_dir == (tmp_path / "models" / "twin-model").resolve()
    assert server.port == 8123
    assert server.url == "http://127.0.0.1:8123/v1"
    assert server.pid_file.parent == tmp_path / "run"
    with pytest.raises(ImproperlyConfigured):
        LocalLLMServer.from_options(
            local_engine_options(load_settings(LOCAL_DATA_DIR=tmp_path, LLM_MODEL_ID="org/model"))
        )


@pytest.mark.parametrize(
    ("provider", "base_url", "expected"),
    [
        ("openai", "http://127.0.0.1:8123/v1", True),
        ("openai", "http://localhost:8123/v1", True),
        ("openai", "http://127.0.0.1:9999/v1", False),
        ("openai", "https://api.openai.com/v1", False),
        ("sagemaker", "http://127.0.0.1:8123/v1", False),
    ],
)
def test_uses_local_llm_only_for_the_local_port(tmp_path, provider, base_url, expected):
    settings = load_settings(LOCAL_DATA_DIR=tmp_path, LLM_PROVIDER=provider, LLM_BASE_URL=base_url, LOCAL_LLM_PORT=8123)
    assert uses_local_llm(settings) is expected


# --- Engines -------------------------------------------------------------------------------------------
def _engine_settings(tmp_path, **overrides):
    return load_settings(env_file=tmp_path / "none.env", LOCAL_DATA_DIR=tmp_path, LOCAL_LLM_PORT=8123, **overrides)


def test_llamacpp_is_the_default_engine_when_llama_cpp_imports(tmp_path, monkeypatch):
    monkeypatch.setattr(llm_server, "llama_cpp_problem", lambda: None)
    server = local_llm_server(local_engine_options(_engine_settings(tmp_path)))
    assert isinstance(server, LlamaCppServer) and server.notice is None
    assert server.label == "local LLM (llama.cpp)"


def test_without_llama_cpp_the_transformers_engine_runs_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(llm_server, "llama_cpp_problem", lambda: "ModuleNotFoundError: No module named 'llama_cpp'")
    server = local_llm_server(local_engine_options(_engine_settings(tmp_path)))
    assert type(server) is LocalLLMServer and server.engine == "transformers"
    assert "No module named 'llama_cpp'" in server.notice
    assert "LOCAL_LLM_ENGINE=transformers" in server.notice and "scripts/setup.sh" in server.notice
    chosen = local_llm_server(local_engine_options(_engine_settings(tmp_path, LOCAL_LLM_ENGINE="transformers")))
    assert type(chosen) is LocalLLMServer and chosen.notice is None  # asked for: no message


def test_both_engines_share_the_pid_file_so_down_stops_either(tmp_path, monkeypatch):
    monkeypatch.setattr(llm_server, "llama_cpp_problem", lambda: None)
    llama = local_llm_server(local_engine_options(_engine_settings(tmp_path)))
    hf = local_llm_server(local_engine_options(_engine_settings(tmp_path, LOCAL_LLM_ENGINE="transformers")))
    assert llama.pid_file == hf.pid_file and llama.log_file == hf.log_file and llama.url == hf.url


def test_llamacpp_command_serves_the_packaged_gguf_without_converting(tmp_path, monkeypatch):
    packaged = tmp_path / "models" / "gguf" / "gemma.gguf"
    monkeypatch.setattr(llm_server, "packaged_gguf", lambda models_dir: packaged)
    monkeypatch.setattr(llm_server, "convert_gguf_model", lambda *a, **k: pytest.fail("nothing is de-quantized"))
    settings = _engine_settings(
        tmp_path, LOCAL_LLM_CONTEXT_SIZE=4096, LOCAL_LLM_PARALLEL=3, LOCAL_LLM_THREADS=2, MAX_NEW_TOKENS_INFERENCE=77
    )
    server = LlamaCppServer.from_options(local_engine_options(settings))
    assert server.prepare() is None and server.gguf_path == packaged
    command = server.command()
    assert command[1:3] == ["-m", "llm_engineering.infrastructure.llamacpp.server"]

    def option(name):
        return command[command.index(name) + 1]

    assert option("--model") == f"gemma-3-270m-twin={packaged}"
    assert option("--models-dir") == str((tmp_path / "models").resolve())
    assert (option("--host"), option("--port")) == ("127.0.0.1", "8123")
    assert [option(name) for name in ("--context-size", "--parallel", "--threads", "--max-tokens")] == [
        "4096",
        "3",
        "2",
        "77",
    ]


def test_llamacpp_serves_a_gguf_in_the_model_folder_and_exports_a_hugging_face_twin(tmp_path, monkeypatch):
    from llm_engineering.model import gguf_export

    packaged = tmp_path / "models" / "gguf" / "gemma.gguf"
    monkeypatch.setattr(llm_server, "packaged_gguf", lambda models_dir: packaged)
    models = tmp_path / "models"
    (models / "twin-gguf").mkdir(parents=True)
    (models / "twin-gguf" / "twin-q8_0.gguf").write_bytes(b"GGUF")
    server = LlamaCppServer.from_options(local_engine_options(_engine_settings(tmp_path)), model_id="twin-gguf")
    server.prepare()
    assert server.gguf_path == models.resolve() / "twin-gguf" / "twin-q8_0.gguf"

    exports = []

    def fake_export(hf_dir, base_gguf, target):
        exports.append((hf_dir.name, base_gguf, target))
        return target, len(exports) == 1  # written the first time, fresh afterwards

    monkeypatch.setattr(gguf_export, "ensure_gguf_export", fake_export)
    merged = tmp_path / "registry" / "merged"
    merged.mkdir(parents=True)
    (merged / "config.json").write_text("{}")
    (models / "twin-hf").symlink_to(merged, target_is_directory=True)  # published by the registry
    server = LlamaCppServer.from_options(local_engine_options(_engine_settings(tmp_path)), model_id="twin-hf")
    assert "exported 'twin-hf'" in server.prepare()
    target = models.resolve() / "gguf" / "twin-hf.gguf"
    assert exports == [("twin-hf", packaged, target)] and server.gguf_path == target
    again = LlamaCppServer.from_options(local_engine_options(_engine_settings(tmp_path)), model_id="twin-hf")
    assert again.prepare() is None and again.gguf_path == target
    with pytest.raises(LocalLLMError, match="No GGUF file"):
        LlamaCppServer.from_options(local_engine_options(_engine_settings(tmp_path)), model_id="twin-hf").start(
            timeout_s=1
        )


def test_the_transformers_engine_prepares_by_converting_once(tmp_path, monkeypatch):
    converted = []
    monkeypatch.setattr(llm_server, "convert_gguf_model", lambda model_dir: converted.append(model_dir))
    server = local_llm_server(local_engine_options(_engine_settings(tmp_path, LOCAL_LLM_ENGINE="transformers")))
    assert server.prepare() is None and converted == [server.model_dir]


def test_llamacpp_serves_the_registered_q8_0_export_of_a_published_twin(tmp_path, monkeypatch):
    """A twin whose registry version has a fresh Q8_0 export is served from it (linked in as
    models/gguf/<id>.gguf, replacing an older export), with nothing exported or joined."""
    import json

    from llm_engineering.model import gguf_export

    monkeypatch.setattr(llm_server, "packaged_gguf", lambda models_dir: pytest.fail("the base GGUF is not needed"))
    monkeypatch.setattr(gguf_export, "ensure_gguf_export", lambda *a: pytest.fail("nothing is exported"))
    version = tmp_path / "registry" / "twin" / "v1"
    merged = version / "sft" / "merged"
    merged.mkdir(parents=True)
    (merged / "config.json").write_text("{}")
    (merged / "model.safetensors").write_bytes(b"\0" * 8)
    (version / "gguf").mkdir()
    q8 = version / "gguf" / "twin-v1.Q8_0.gguf"
    q8.write_bytes(b"GGUF" * 4)
    card = {
        "merged_dir": "sft/merged",
        "gguf": {
            "files": {"gguf/twin-v1.Q8_0.gguf": {"quantization": "Q8_0", "bytes": 16, "sha256": "x"}},
            "weights": gguf_export.weights_fingerprint(merged),
        },
    }
    (version / "model_card.json").write_text(json.dumps(card))
    models = tmp_path / "models"
    (models / "gguf").mkdir(parents=True)
    (models / "gguf" / "twin-v1.gguf").write_bytes(b"old export")
    (models / "gguf" / "twin-v1.gguf.json").write_text("{}")
    (models / "twin-v1").symlink_to(merged, target_is_directory=True)

    server = LlamaCppServer.from_options(local_engine_options(_engine_settings(tmp_path)), model_id="twin-v1")
    assert "registered export" in server.prepare()
    assert server.gguf_path == q8
    link = models / "gguf" / "twin-v1.gguf"
    assert link.is_symlink() and link.resolve() == q8.resolve()  # a running server loads it by name
    assert not (models / "gguf" / "twin-v1.gguf.json").exists()
    assert f"twin-v1={q8}" in server.command()
