"""The local LLM server: the chat template it serves must produce the training prompt format, its command
pins the model folder, and it is built from the settings in one place."""

from pathlib import Path

import jinja2
import pytest

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.domain.prompts import (
    INSTRUCTION_CHAT_TEMPLATE,
    INSTRUCTION_PREAMBLE,
    RESPONSE_HEADER,
    QueryExpansionPrompt,
    format_instruction_prompt,
    format_self_query_prompt,
)
from llm_engineering.infrastructure.local.llm_server import LocalLLMServer, uses_local_llm
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


def test_from_settings_maps_the_model_id_to_a_folder_port_and_run_dir(tmp_path):
    settings = load_settings(LOCAL_DATA_DIR=tmp_path, LLM_MODEL_ID="twin-model", LOCAL_LLM_PORT=8123)
    server = LocalLLMServer.from_settings(settings)
    assert server.model_dir == (tmp_path / "models" / "twin-model").resolve()
    assert server.port == 8123
    assert server.url == "http://127.0.0.1:8123/v1"
    assert server.pid_file.parent == tmp_path / "run"
    with pytest.raises(ImproperlyConfigured):
        LocalLLMServer.from_settings(load_settings(LOCAL_DATA_DIR=tmp_path, LLM_MODEL_ID="org/model"))


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
