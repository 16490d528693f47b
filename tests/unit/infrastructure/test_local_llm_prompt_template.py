"""The served chat template and the training prompt format must produce the same text."""

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
from llm_engineering.infrastructure.local_llm import LocalLLMServer, is_converted, local_model_dir


def _render(messages, add_generation_prompt=True):
    environment = jinja2.Environment(extensions=["jinja2.ext.loopcontrols"])
    return environment.from_string(INSTRUCTION_CHAT_TEMPLATE).render(
        messages=messages, add_generation_prompt=add_generation_prompt, eos_token="</s>"
    )


def test_chat_template_matches_the_training_format_for_a_generation_prompt():
    rendered = _render([{"role": "user", "content": "Write about chunking."}])
    assert rendered == format_instruction_prompt("Write about chunking.")


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


def test_local_model_dir_needs_a_plain_name(tmp_path):
    assert local_model_dir(tmp_path, "gemma-3-270m-twin") == tmp_path / "gemma-3-270m-twin"
    for bad in ("org/model", "", "../x"):
        with pytest.raises(ImproperlyConfigured):
            local_model_dir(tmp_path, bad)


def test_server_command_pins_the_folder_name_and_status_without_a_server(tmp_path):
    server = LocalLLMServer(tmp_path / "models" / "twin", port=1, run_dir=tmp_path / "run")
    command = server.command()
    assert command[1:3] == ["serve", "twin"]
    assert command[command.index("--port") + 1] == "1"
    assert server.served_model_id == "twin"
    assert server.status().describe().startswith("local LLM: DOWN")
    assert server.stop() == "local LLM: not started by this project"
    assert not is_converted(tmp_path / "models" / "twin")
