"""The Ollama `Modelfile` of a twin's GGUF export: `ollama create <name> -f Modelfile` then serves the twin with
the project's instruction layout.

The `TEMPLATE` is the Jinja chat template of `domain.prompts` in Ollama's Go-template syntax: a system message
replaces the preamble, each user turn is an instruction block, each earlier assistant turn a response block
closed by EOS, and the prompt ends with the response header. It writes no BOS: Ollama's llama.cpp runner adds
it, as the GGUF's `tokenizer.ggml.add_bos_token` asks. Differences from the Jinja template: Ollama joins
several system messages with a blank line (Jinja keeps the last), and it passes message text untrimmed.

Modelfile quoting follows Ollama's parser: a value in `\"\"\"` may span lines and is taken verbatim (no escapes),
so the stop sequences' leading newline is written as a real line break.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from llm_engineering.domain.prompts import INSTRUCTION_HEADER, INSTRUCTION_PREAMBLE, RESPONSE_HEADER, STOP_SEQUENCES

MODELFILE = "Modelfile"
# Greedy-ish, as the project serves the twin (TEMPERATURE_INFERENCE 0.01, TOP_P_INFERENCE 0.9): a 270M twin
# drifts quickly when sampled hot.
TEMPERATURE = 0.01
TOP_P = 0.9
# Ollama's default context (2048 on older releases) cuts RAG prompts; the local server uses 8192 per slot.
CONTEXT_SIZE = 8192


def ollama_template(eos_token: str) -> str:
    """The project's instruction chat layout as an Ollama (Go text/template) TEMPLATE, closing earlier assistant
    turns with `eos_token`. No `{{-` trim markers: every newline written is part of the layout."""
    return (
        "{{ if .System }}{{ .System }}{{ else }}" + INSTRUCTION_PREAMBLE + "{{ end }}\n\n"
        "{{ range $i, $_ := .Messages }}{{ $last := eq (len (slice $.Messages $i)) 1 }}"
        '{{ if eq .Role "user" }}' + INSTRUCTION_HEADER + "\n{{ .Content }}\n\n"
        "{{ if $last }}" + RESPONSE_HEADER + "\n{{ end }}"
        '{{ else if eq .Role "assistant" }}' + RESPONSE_HEADER + "\n{{ .Content }}"
        # A last assistant turn is one Ollama continues: left open, without EOS.
        "{{ if not $last }}" + eos_token + "\n\n{{ end }}"
        "{{ end }}{{ end }}"
    )


def render_modelfile(
    model_file: str,
    eos_tokens: Sequence[str],
    alternatives: Mapping[str, str] | None = None,
    source: str = "",
    stop_sequences: Sequence[str] = STOP_SEQUENCES,
) -> str:
    """The Modelfile text: `FROM ./<model_file>` (a GGUF beside it; `alternatives` maps other quantizations to
    their files, named in a comment), the template closing turns with `eos_tokens[0]`, a stop per stop
    sequence and EOS token, the project's sampling, and no SYSTEM (see the comment written into the file)."""
    if not eos_tokens:
        raise ValueError("The Modelfile needs the model's end-of-sequence token.")
    lines = [f"# Ollama Modelfile of {source or model_file} (written by llm_engineering/model/gguf_bundle.py)."]
    lines += [
        "# Create and run it:  ollama create llm-twin -f Modelfile  &&  ollama run llm-twin",
        f"FROM ./{model_file}",
    ]
    for quantization, file in (alternatives or {}).items():
        lines.insert(-1, f"# {quantization} (larger, closer to the trained weights): FROM ./{file}")
    lines += [
        "",
        "# The layout the twin was trained on (llm_engineering/domain/prompts.py): system message (or the",
        "# instruction preamble), '### Instruction:' blocks, '### Response:' blocks closed by EOS.",
        f'TEMPLATE """{ollama_template(eos_tokens[0])}"""',
        "",
        "# No SYSTEM: a chat without a system message gets the instruction preamble, the plain layout. The RAG",
        "# system prompt goes with the numbered passages that a RAG client (the project's /rag) puts in the user",
        "# turn, and such a client sends it as its own system message; set here, it would ask every plain chat",
        "# to cite passages it was never given.",
        "",
        "# Stop at a new instruction block (the project's stop sequences) and at the end-of-sequence tokens.",
    ]
    lines += [f'PARAMETER stop """{stop}"""' for stop in (*stop_sequences, *eos_tokens)]
    lines += [
        f"PARAMETER temperature {TEMPERATURE}",
        f"PARAMETER top_p {TOP_P}",
        f"PARAMETER num_ctx {CONTEXT_SIZE}",
    ]
    return "\n".join(lines) + "\n"
