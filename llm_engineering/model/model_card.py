"""The human-readable model card of a registered model version, rendered from its JSON card
(`model_card.json`, written by `model.registry`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# The stage metrics shown as table columns, in this order; every other metric is listed under the table.
STAGE_COLUMNS = (
    ("train_loss_first", "train loss first"),
    ("train_loss_last", "train loss last"),
    ("eval_loss", "eval loss"),
    ("steps", "steps"),
    ("samples", "samples"),
    ("tokens", "tokens"),
    ("tokens_per_s", "tokens/s"),
    ("seconds", "seconds"),
    ("peak_rss_mb", "peak RSS MB"),
)


def render_model_card(card: Mapping[str, Any]) -> str:
    """Markdown for `card`: base model, stages with key metrics, held-out metrics, datasets with their
    artifact versions, hardware, how to serve it, its GGUF exports, configuration and the files of the version."""
    name, version = card["name"], card["version"]
    serving = card.get("serving", {})
    served = serving.get("served_model_id", f"{name}-v{version}")
    stages = card.get("stages", [])
    lines = [
        f"# {name} v{version}",
        "",
        f"- Registered: {card.get('created_at', '?')}",
        f"- Base model: `{card.get('base_model', '?')}`",
        f"- Training: {' -> '.join(stage['stage'].upper() for stage in stages) or 'none'}",
        f"- Served model id: `{served}` (what requests name, e.g. LLM_MODEL_ID)",
        "",
        "## Stages",
        "",
        "| stage | base model | " + " | ".join(label for _, label in STAGE_COLUMNS) + " |",
        "|---|---|" + "---:|" * len(STAGE_COLUMNS),
    ]
    for stage in stages:
        metrics = stage.get("metrics", {})
        cells = [_number(metrics.get(key)) for key, _ in STAGE_COLUMNS]
        lines.append(f"| {stage['stage']} | `{stage.get('base_model', '')}` | " + " | ".join(cells) + " |")
    for stage in stages:
        shown = {key for key, _ in STAGE_COLUMNS}
        extra = {key: value for key, value in stage.get("metrics", {}).items() if key not in shown}
        if extra:
            lines += [
                "",
                f"Other {stage['stage']} metrics: " + ", ".join(f"{k} {_number(v)}" for k, v in extra.items()),
            ]

    lines += ["", "## Held-out evaluation", ""]
    lines += _table(card.get("metrics", {}), "metric", "value") or ["No held-out metrics were recorded."]

    lines += ["", "## Datasets", ""]
    datasets = card.get("datasets", {})
    if datasets:
        lines += ["| dataset | details |", "|---|---|"]
        for dataset, details in datasets.items():
            described = _inline(details) if isinstance(details, Mapping) else str(details)
            lines.append(f"| {dataset} | {described} |")
    else:
        lines.append("No datasets were recorded.")

    lines += ["", "## Hardware", ""]
    lines += [f"- {key}: {value}" for key, value in card.get("hardware", {}).items()] or ["Not recorded."]

    lines += [
        "",
        "## How to serve it",
        "",
        "```bash",
        serving.get("command", f"poetry run python -m tools.local_llm up --model {name}:v{version}"),
        "```",
        "",
        "This makes it the served model: `/rag` answers with it from the next request (so does",
        f"`poetry run poe serve-model --model {name}:v{version}`, or the web UI's /models page), unless",
        f"LLM_MODEL_ID names another model (set `LLM_MODEL_ID={served}` or `auto`); one local server serves",
        "every model published under the models folder, the base model included.",
        "",
        *_gguf_lines(card),
        "## Configuration",
        "",
        "```json",
        json.dumps(card.get("config", {}), indent=2, sort_keys=True),
        "```",
        "",
        "## Files",
        "",
    ]
    for stage in stages:
        for key in ("merged_dir", "adapter_dir", "log_history"):
            if stage.get(key):
                lines.append(f"- `{stage[key]}`")
    lines.append(f"- servable model: `{card.get('merged_dir', '')}`")
    gguf = card.get("gguf") or {}
    lines += [f"- `{path}`" for path in gguf.get("files", {})]
    if gguf.get("modelfile"):
        lines.append(f"- `{gguf['modelfile']}`")
    return "\n".join(lines) + "\n"


def _gguf_lines(card: Mapping[str, Any]) -> list[str]:
    """The GGUF section: the exported files, and how to run them in Ollama or LM Studio (none: not exported)."""
    gguf = card.get("gguf") or {}
    files = gguf.get("files") or {}
    if not files:
        return []
    lines = [
        "## GGUF exports",
        "",
        "| file | quantization | MB | sha256 |",
        "|---|---|---:|---|",
    ]
    for path, entry in files.items():
        size = (entry.get("bytes") or 0) / 1e6
        lines.append(f"| `{path}` | {entry.get('quantization', '')} | {size:,.1f} | `{entry.get('sha256', '')}` |")
    ollama_name = f"{card['name']}-v{card['version']}".lower().replace("_", "-")
    lines += ["", f"Made from the weights of `{card.get('merged_dir', '')}` at {gguf.get('exported_at', '?')}."]
    if gguf.get("modelfile"):
        lines += [
            "Run it in Ollama from this version's folder (the Modelfile carries the twin's prompt layout and stops):",
            "",
            "```bash",
            f"ollama create {ollama_name} -f {gguf['modelfile']} && ollama run {ollama_name}",
            "```",
            "",
            "LM Studio and llama.cpp load the `.gguf` files as they are: the chat template is in their metadata.",
        ]
    return [*lines, ""]


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def _table(values: Mapping[str, Any], key_header: str, value_header: str) -> list[str]:
    if not values:
        return []
    rows = [f"| {key_header} | {value_header} |", "|---|---:|"]
    for key, value in values.items():
        shown = _inline(value) if isinstance(value, Mapping) else _number(value)
        rows.append(f"| {key} | {shown} |")
    return rows


def _inline(values: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{key}: {_number(value) if not isinstance(value, str) else value}" for key, value in values.items()
    )
