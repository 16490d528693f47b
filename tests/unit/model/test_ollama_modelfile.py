"""The Ollama Modelfile of a twin's GGUF: read back as Ollama's parser reads it, its TEMPLATE rendered as
Ollama renders a chat (Go template, emulated) gives exactly the prompt of the project's Jinja chat template
and of `format_instruction_prompt`; stops and sampling as the project serves the twin."""

from __future__ import annotations

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from llm_engineering.domain.prompts import (
    INSTRUCTION_PREAMBLE,
    RAG_SYSTEM_PROMPT,
    STOP_SEQUENCES,
    format_instruction_prompt,
    instruction_chat_template,
)
from llm_engineering.model.ollama_modelfile import ollama_template, render_modelfile
from tests.ollama_emulation import ollama_prompt, parse_modelfile, render_go_template

EOS = "<eos>"

CHATS = {
    "one instruction": [{"role": "user", "content": "Write a note on vector search."}],
    "system replaces the preamble": [
        {"role": "system", "content": RAG_SYSTEM_PROMPT},
        {"role": "user", "content": "What is RAG?\n\nPassages:\n\n[1] RAG looks things up first."},
    ],
    "multi-turn": [
        {"role": "user", "content": "Explain chunking."},
        {"role": "assistant", "content": "Split documents into passages."},
        {"role": "user", "content": "Why does size matter?"},
    ],
    "system and multi-turn": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "One."},
        {"role": "assistant", "content": "Two."},
        {"role": "user", "content": "Three?"},
    ],
}


def jinja_prompt(messages: list[dict[str, str]]) -> str:
    """The project's chat template as servers render it, without BOS (Ollama's runner adds BOS itself)."""
    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    template = environment.from_string(instruction_chat_template(bos=False))
    return template.render(messages=messages, add_generation_prompt=True, eos_token=EOS, bos_token="<bos>")


def modelfile_commands(**overrides) -> list[tuple[str, str]]:
    arguments = {"model_file": "twin-v1.Q4_K_M.gguf", "eos_tokens": [EOS, "<end_of_turn>"]} | overrides
    return parse_modelfile(render_modelfile(**arguments))


@pytest.mark.parametrize("name", list(CHATS))
def test_the_template_renders_the_chat_template_layout(name):
    messages = CHATS[name]
    assert ollama_prompt(ollama_template(EOS), messages) == jinja_prompt(messages)


def test_one_instruction_is_exactly_the_training_prompt():
    instruction = "Write a note on vector search."
    rendered = ollama_prompt(ollama_template(EOS), [{"role": "user", "content": instruction}])
    assert rendered == format_instruction_prompt(instruction)
    assert rendered.startswith(INSTRUCTION_PREAMBLE + "\n\n### Instruction:\n") and rendered.endswith("### Response:\n")


def test_a_finished_assistant_turn_is_closed_by_eos_and_a_last_one_left_open():
    history = CHATS["multi-turn"]
    rendered = ollama_prompt(ollama_template(EOS), history)
    assert "### Response:\nSplit documents into passages.<eos>\n\n### Instruction:\nWhy does size matter?" in rendered
    prefill = ollama_prompt(ollama_template(EOS), history[:2])
    assert prefill.endswith("### Response:\nSplit documents into passages.")  # Ollama continues it


def test_the_modelfile_reads_back_as_ollama_parses_it():
    commands = modelfile_commands(alternatives={"Q8_0": "twin-v1.Q8_0.gguf"}, source="twin:v1")
    names = [name for name, _ in commands]
    assert dict(commands)["model"] == "./twin-v1.Q4_K_M.gguf"
    assert names.count("model") == 1  # the Q8_0 alternative is only a comment
    assert dict(commands)["template"] == ollama_template(EOS)
    assert [value for name, value in commands if name == "stop"] == [*STOP_SEQUENCES, EOS, "<end_of_turn>"]
    assert STOP_SEQUENCES[0].startswith("\n")  # the leading newline survives the parser (a real line break)
    assert (dict(commands)["temperature"], dict(commands)["top_p"]) == ("0.01", "0.9")
    assert "system" not in names  # plain chats get the instruction preamble; RAG clients send their own system


def test_the_parsed_template_renders_through_the_go_template_emulation():
    template = dict(modelfile_commands())["template"]
    data = {"System": "", "Messages": [{"Role": "user", "Content": "Hi"}]}
    assert render_go_template(template, data) == format_instruction_prompt("Hi")


def test_the_go_template_emulation_follows_go_semantics():
    # Trim markers, else-if chains, range variables and $ -- checked on a template of Ollama's own style.
    template = (
        "{{- range $i, $m := .Messages }}\n{{- $last := eq (len (slice $.Messages $i)) 1 }}"
        '{{ if eq .Role "user" }}U:{{ .Content }}{{ else if eq $m.Role "assistant" }}A:{{ .Content }}'
        "{{ else }}?{{ end }}{{ if not $last }},{{ end }}\n{{- end }}"
    )
    messages = [
        {"Role": "user", "Content": "a"},
        {"Role": "assistant", "Content": "b"},
        {"Role": "tool", "Content": "c"},
    ]
    assert render_go_template(template, {"Messages": messages}) == "U:a,A:b,?"


def test_a_modelfile_without_eos_is_refused():
    with pytest.raises(ValueError, match="end-of-sequence"):
        render_modelfile("twin.gguf", eos_tokens=[])
