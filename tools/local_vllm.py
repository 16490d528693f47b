"""Serve a fine-tuned twin with vLLM on a CUDA GPU: OpenAI-compatible, on the port of LLM_BASE_URL, under the
model id LLM_MODEL_ID, so the RAG API needs no other setting. Runs in the foreground (Ctrl-C stops it).

python -m tools.local_vllm [--model SPEC] [--max-model-len N] [--dry-run] [-- VLLM_ARGS...]

vLLM is not in the project's lock (it pins its own torch and transformers): install it on the GPU machine,
preferably in its own environment, with `pip install vllm`, and put its `vllm` command on PATH (or pass
--vllm-bin). On a CPU, `poe local-llm-up` serves the same models with `transformers serve`.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import click

if TYPE_CHECKING:
    from llm_engineering.settings import Settings

DEFAULT_MODEL = "llm_twin:latest"
HUB_PREFIX = "hf:"
# `owner/name` on the Hugging Face Hub (what a bare spec means when no such local folder exists).
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
VLLM_INSTALL_HINT = (
    "install it on the GPU machine with `pip install vllm` (best in its own virtual environment: it pins torch "
    "and transformers versions the project's lock does not use) and put its `vllm` command on PATH, or pass "
    "--vllm-bin / set VLLM_BIN"
)


@dataclass(frozen=True)
class ModelToServe:
    """What vLLM loads: a local model folder or a Hugging Face Hub id, and how it was named."""

    location: str
    description: str
    is_local: bool


def resolve_model_to_serve(spec: str, settings: Settings) -> ModelToServe:
    """What `spec` names, resolved like the evaluation pipeline's models (`resolve_model`):

    - a registry spec (`llm_twin`, `llm_twin:latest`, `llm_twin:v2`), optionally with a stage
      (`llm_twin:latest@sft`): that version's merged model, its last stage by default;
    - `base`: the local base model folder (converted by `poe local-llm-up` or the training pipeline);
    - a model folder path;
    - `hf:owner/name`, or a bare `owner/name` that is not a local folder: a Hugging Face Hub model id.

    Local folders must keep their chat template (vLLM's /v1/chat/completions needs it). Raises
    click.ClickException with the reason otherwise.
    """
    from llm_engineering import bootstrap
    from llm_engineering.domain.exceptions import LLMTwinError
    from llm_engineering.model.evaluation.model_evaluation import ENDPOINT, ModelUnderTest, resolve_model
    from llm_engineering.model.registry import require_servable

    spec = (spec or "").strip()
    if spec.startswith(HUB_PREFIX):
        hub_id = spec[len(HUB_PREFIX) :]
        if not _HUB_ID.match(hub_id):
            raise click.ClickException(f"{spec!r}: expected hf:<owner>/<name>, a Hugging Face Hub model id.")
        return ModelToServe(hub_id, f"Hugging Face Hub model {hub_id}", is_local=False)
    if spec == ENDPOINT or spec.startswith(f"{ENDPOINT}:"):
        raise click.ClickException(f"{spec!r} names a running server, not a model vLLM can load.")
    try:
        resolved = resolve_model(
            ModelUnderTest(name="vllm", source=spec),
            bootstrap.build_model_registry(settings),
            bootstrap.training_base_model_dir(settings, convert=False),
        )
        model_dir = Path(resolved.model_dir or "")
        require_servable(model_dir)
    except LLMTwinError as error:
        if _HUB_ID.match(spec) and not Path(spec).exists():
            return ModelToServe(spec, f"Hugging Face Hub model {spec}", is_local=False)
        hint = (
            " Train one first (`poetry run poe run-training-pipeline`) or pass --model."
            if spec == DEFAULT_MODEL
            else ""
        )
        raise click.ClickException(f"{error}{hint}") from error
    return ModelToServe(str(model_dir.resolve()), resolved.description, is_local=True)


def port_of(base_url: str) -> int:
    """The TCP port of an http(s) URL such as LLM_BASE_URL (80/443 when it names none)."""
    parsed = urlparse(base_url)
    if parsed.port is not None:
        return parsed.port
    return 443 if parsed.scheme == "https" else 80


def vllm_command(
    vllm_bin: str,
    model: str,
    served_model_name: str,
    host: str,
    port: int,
    max_model_len: int,
    dtype: str = "auto",
    extra_args: tuple[str, ...] = (),
) -> list[str]:
    """The `vllm serve` command line (extra arguments last, so they can override nothing silently)."""
    return [
        vllm_bin,
        "serve",
        model,
        "--served-model-name",
        served_model_name,
        "--host",
        host,
        "--port",
        str(port),
        "--dtype",
        dtype,
        "--max-model-len",
        str(max_model_len),
        *extra_args,
    ]


def find_vllm(vllm_bin: str | None) -> str:
    """The path of the `vllm` executable; raises click.ClickException saying how to install it."""
    name = vllm_bin or "vllm"
    found = shutil.which(name)
    if found is None:
        raise click.ClickException(f"vLLM is not installed here (no {name!r} command found): {VLLM_INSTALL_HINT}.")
    return found


def require_cuda_gpu() -> str:
    """The name of the first visible CUDA GPU; raises click.ClickException when there is none."""
    import torch  # heavy: only when about to serve

    if not torch.cuda.is_available():
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        hint = f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else ""
        raise click.ClickException(
            f"No CUDA GPU is visible{hint}: vLLM needs an NVIDIA GPU with a working driver. On a CPU, serve the "
            "model with `poetry run poe local-llm-up --model <spec>` (transformers serve) instead."
        )
    return str(torch.cuda.get_device_name(0))


def _exec(command: list[str]) -> None:
    """Replace this process with `command`, so signals (Ctrl-C, docker stop) reach vLLM directly."""
    os.execv(command[0], command)


@click.command(context_settings={"help_option_names": ["-h", "--help"], "ignore_unknown_options": True})
@click.option(
    "--model",
    "model_spec",
    metavar="SPEC",
    default=DEFAULT_MODEL,
    show_default=True,
    help="NAME[:latest|:vN][@STAGE] from LOCAL_DATA_DIR/registry, `base`, a model folder, or hf:OWNER/NAME.",
)
@click.option(
    "--served-name",
    default=None,
    help="Model id clients send (default: the id the API asks, LLM_MODEL_ID or the served model `poe served-model`).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=None, help="Port (default: the port of LLM_BASE_URL).")
@click.option(
    "--max-model-len", type=int, default=None, help="Context length, prompt + answer (default: MAX_TOTAL_TOKENS)."
)
@click.option("--dtype", default="auto", show_default=True, help="Weights dtype (auto, bfloat16, float16).")
@click.option("--vllm-bin", envvar="VLLM_BIN", default=None, help="The vllm command (default: `vllm` on PATH).")
@click.option("--dry-run", is_flag=True, help="Print the command and exit, without checking for vLLM or a GPU.")
@click.argument("vllm_args", nargs=-1, type=click.UNPROCESSED)
def main(
    model_spec: str,
    served_name: str | None,
    host: str,
    port: int | None,
    max_model_len: int | None,
    dtype: str,
    vllm_bin: str | None,
    dry_run: bool,
    vllm_args: tuple[str, ...],
) -> None:
    """Serve a trained twin with `vllm serve` in the foreground, where the RAG API's settings point."""
    from llm_engineering.telemetry import opt_out_of_vendor_telemetry

    opt_out_of_vendor_telemetry()  # first: before any vendor library is imported

    from llm_engineering import bootstrap
    from llm_engineering.settings import get_settings

    settings = get_settings()
    model = resolve_model_to_serve(model_spec, settings)
    asked = bootstrap.served_model(settings).model_id  # what the RAG API sends
    served = served_name or asked
    command = vllm_command(
        (shutil.which(vllm_bin or "vllm") or vllm_bin or "vllm") if dry_run else find_vllm(vllm_bin),
        model.location,
        served,
        host,
        port or port_of(settings.LLM_BASE_URL),
        max_model_len or settings.MAX_TOTAL_TOKENS,
        dtype,
        vllm_args,
    )
    click.echo(f"Model: {model.description}" + (f" ({model.location})" if model.is_local else ""))
    if model.is_local:
        click.echo(f"For docker compose --profile gpu: LLM_TWIN_MODEL_DIR={model.location}")
    if served != asked:
        click.echo(f"Clients must set LLM_MODEL_ID={served} (now {asked}).")
    if dry_run:
        click.echo(" ".join(command))
        return
    gpu = require_cuda_gpu()
    click.echo(f"GPU: {gpu}\n$ {' '.join(command)}", err=True)
    _exec(command)


if __name__ == "__main__":
    main()
