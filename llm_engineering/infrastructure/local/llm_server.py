"""The local LLM microservice: an OpenAI-compatible server on 127.0.0.1, run as a daemon with a pid file, by
one of two engines (LOCAL_LLM_ENGINE):

- `llamacpp` (default): `LlamaCppServer`, the packaged Gemma 3 GGUF served as it is by llama.cpp through
  llama-cpp-python (`infrastructure.llamacpp.server`): parallel slots, streaming, stop sequences, and work
  stopped as soon as a client leaves. Other models are GGUF files in `LOCAL_DATA_DIR/models/<model>/` or
  twins exported to `LOCAL_DATA_DIR/models/gguf/<model>.gguf` (`model.gguf_export`, or a link to the
  registry's own Q8_0 export, `model.gguf_bundle`), loaded on first use.
- `transformers`: `LocalLLMServer`, `transformers serve` on a Hugging Face folder (the fallback, also chosen,
  with a message, when llama-cpp-python cannot be imported). Described below.

The folder is `LOCAL_DATA_DIR/models/<LLM_MODEL_ID>`, converted once from the packaged GGUF by
`llm_engineering.model.gguf_conversion`. The server runs with that folder's parent (the models folder) as
working directory, so clients send `model=<folder name>` exactly as they would to vLLM or OpenAI. Unpinned
(what `LocalLLMServer.from_options` builds), one server answers for every folder there, the base model and
the trained twins that `model.registry.publish_for_serving` links in, loading each on its first request
and keeping it loaded; pinned, it serves its own folder only and refuses other names.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

from llm_engineering.infrastructure.errors import LocalLLMError
from llm_engineering.infrastructure.local.processes import (
    LOOPBACK_HOSTS,
    http_ok,
    pid_alive,
    port_open,
    read_pid_file,
    stop_pid,
    venv_executable,
    wait_http_ok,
)
from llm_engineering.model.gguf_conversion import (
    PACKAGED_MODEL_ID,
    convert_gguf_model,
    is_published_model,
    local_model_dir,
    packaged_gguf,
)

LABEL = "local LLM"


@dataclass(frozen=True)
class LocalEngineOptions:
    """How the project's local LLM server runs, built by the composition root from the LOCAL_LLM_*,
    LOCAL_DATA_DIR, MAX_NEW_TOKENS_INFERENCE and LLM_MODEL_ID settings (`bootstrap.local_engine_options`).

    `engine`: "llamacpp" or "transformers"; `default_model_id`: the folder preloaded when a caller names none.
    """

    engine: str
    data_dir: Path
    port: int
    default_model_id: str = PACKAGED_MODEL_ID
    context_size: int = 8192
    parallel: int = 2
    threads: int = 0
    max_tokens: int = 256

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    def model_dir(self, model_id: str | None = None) -> Path:
        """The folder of `model_id` (default `default_model_id`) under `models_dir`. Raises
        ImproperlyConfigured for a model id that is not a plain folder name."""
        return local_model_dir(self.models_dir, model_id or self.default_model_id)


@dataclass(frozen=True)
class ServerStatus:
    """What `LocalLLMServer.status` saw: a live pid from the pid file, a healthy `/health`, the URL."""

    running: bool
    healthy: bool
    pid: int | None
    url: str

    def describe(self) -> str:
        if self.healthy:
            return f"{LABEL}: UP at {self.url} (pid {self.pid})"
        if self.running:
            return f"{LABEL}: starting or unhealthy at {self.url} (pid {self.pid})"
        return f"{LABEL}: DOWN ({self.url})"


ENGINE_NAMES = {"llamacpp": "llama.cpp", "transformers": "transformers serve"}


def local_llm_server(options: LocalEngineOptions, model_id: str | None = None) -> LocalLLMServer:
    """The project's local server on `options.port` for the engine `options.engine` names: `LlamaCppServer`,
    or `LocalLLMServer` (`transformers serve`) when asked for or when llama-cpp-python cannot be imported
    (`notice` then says so). Both serve every model of `options.models_dir` and preload `model_id` (default
    `options.default_model_id`); they share the pid file, so `down` stops whichever runs."""
    engine, notice = resolve_engine(options.engine)
    if engine == "llamacpp":
        server: LocalLLMServer = LlamaCppServer.from_options(options, model_id=model_id)
    else:
        server = LocalLLMServer.from_options(options, model_id=model_id)
    server.notice = notice
    return server


def resolve_engine(requested: str) -> tuple[str, str | None]:
    """The engine to run for LOCAL_LLM_ENGINE=`requested`, and a notice when it is not the one asked for."""
    if requested != "llamacpp":
        return requested, None
    problem = llama_cpp_problem()
    if problem is None:
        return "llamacpp", None
    return "transformers", (
        f"LOCAL_LLM_ENGINE=llamacpp, but llama-cpp-python cannot be imported ({problem}); falling back to "
        "`transformers serve` (slower: it de-quantizes the model once and serves one request at a time). "
        "Install it with `bash scripts/setup.sh` (or `poetry install --with llamacpp`), or set "
        "LOCAL_LLM_ENGINE=transformers to choose the fallback and silence this message."
    )


@cache
def llama_cpp_problem() -> str | None:
    """Why `import llama_cpp` fails (not installed, or its compiled library does not load); None when it works."""
    try:
        import llama_cpp  # noqa: F401
    except Exception as error:  # noqa: BLE001 - ImportError, or OSError/RuntimeError from a library that does not load
        return f"{type(error).__name__}: {error}"
    return None


class LocalLLMServer:
    """`transformers serve` on `host`:`port` in the folder holding `model_dir`, run as a daemon whose pid and
    log live in `run_dir`. Pinned, it serves `model_dir` only; unpinned, any model folder beside it, with
    `model_dir` loaded at start."""

    engine = "transformers"
    # Set by `local_llm_server` when this engine replaces the one asked for.
    notice: str | None = None

    def __init__(self, model_dir: Path, port: int, run_dir: Path, host: str = "127.0.0.1", pinned: bool = True):
        # The parent is resolved, not the folder: a published model is a symlink whose name is the model id.
        self.model_dir = model_dir.parent.resolve() / model_dir.name
        self.pinned = pinned
        self.port = port
        self.host = host
        self.run_dir = run_dir
        self.pid_file = run_dir / f"local-llm-{port}.pid"
        self.log_file = run_dir / f"local-llm-{port}.log"

    @classmethod
    def from_options(
        cls, options: LocalEngineOptions, model_id: str | None = None, pinned: bool = False
    ) -> LocalLLMServer:
        """The project's local server on `options.port`, pid and log under `options.run_dir`, serving the
        folders of `options.models_dir` and preloading `model_id` (default `options.default_model_id`).
        Raises ImproperlyConfigured for a model id that is not a plain folder name."""
        return cls(options.model_dir(model_id), port=options.port, run_dir=options.run_dir, pinned=pinned)

    @property
    def served_model_id(self) -> str:
        """The `model` value requests must carry: the folder name, resolved from the server's cwd."""
        return self.model_dir.name

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL (what LLM_BASE_URL should be)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def health_url(self) -> str:
        return f"http://{self.host}:{self.port}/health"

    @property
    def label(self) -> str:
        return f"{LABEL} ({ENGINE_NAMES[self.engine]})"

    def prepare(self) -> str | None:
        """Make the model servable: the packaged GGUF de-quantized once into `model_dir` (cached; a published
        twin is left as it is). Returns a line to show, if any; raises LLMTwinError when it fails."""
        convert_gguf_model(self.model_dir)
        return None

    def _check_model(self) -> None:
        if not (self.model_dir / "config.json").is_file():
            raise LocalLLMError(f"No model folder at {self.model_dir}; convert it first (poetry run poe local-llm-up).")

    def _environment(self) -> dict[str, str]:
        hub_cache = self.run_dir / "hf-cache"
        hub_cache.mkdir(exist_ok=True)
        return {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            # `transformers serve` lists models from the hub cache; an existing empty folder keeps /v1/models valid.
            "HF_HUB_CACHE": str(hub_cache.resolve()),
            "TOKENIZERS_PARALLELISM": "false",
        }

    def command(self) -> list[str]:
        """The `transformers serve` command line (the venv's `transformers` script; raises if absent)."""
        # Unpinned: no model argument, and loaded models stay loaded (-1) instead of unloading after 300 s idle.
        model = [self.served_model_id] if self.pinned else ["--model-timeout=-1"]
        return [
            venv_executable("transformers"),
            "serve",
            *model,
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
        """Start the daemon unless one already answers; wait until it is healthy (model loaded).

        Returns a one-line report; raises LocalLLMError when the folder is missing, the port is taken, or
        the server exits or stays unhealthy (it is then stopped).
        """
        self._check_model()
        current = self.status()
        if current.healthy:
            return f"{LABEL}: already up at {self.url} (pid {current.pid})"
        if port_open(self.host, self.port):
            raise LocalLLMError(f"Port {self.port} is taken by another process; set LOCAL_LLM_PORT to a free port.")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        environment = self._environment()
        command = self.command()
        started = time.perf_counter()
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=self.model_dir.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                start_new_session=True,  # survives the parent (a poe task), stopped by pid
            )
        self.pid_file.write_text(str(process.pid))
        if wait_http_ok(self.health_url, timeout_s, process=process):
            if not self.pinned:  # healthy before any model is loaded: load ours now, as a pinned server does
                try:
                    self.ensure_model(self.served_model_id, max(30.0, timeout_s - (time.perf_counter() - started)))
                except LocalLLMError:
                    self.stop()
                    raise
            elapsed = time.perf_counter() - started
            return f"{self.label}: started at {self.url} as model {self.served_model_id!r} in {elapsed:.0f}s"
        if process.poll() is not None:
            self.pid_file.unlink(missing_ok=True)
            raise LocalLLMError(f"The LLM server exited with code {process.returncode}; see {self.log_file}")
        self.stop()
        raise LocalLLMError(f"The LLM server did not become healthy within {timeout_s:.0f}s; see {self.log_file}")

    def ensure_model(self, model_id: str, timeout_s: float = 300.0) -> str:
        """Make the running server load `model_id` (a folder of its working directory) with a one-token chat
        completion, which also proves the folder answers chat requests. Returns a one-line report; raises
        LocalLLMError when the server is pinned to another model, cannot load it, or does not answer."""
        import httpx  # here, not at the top: importing the launcher stays light

        started = time.perf_counter()
        request = {"model": model_id, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 1}
        try:
            # Loopback: never through the environment's proxy.
            with httpx.Client(trust_env=False, timeout=httpx.Timeout(timeout_s, connect=5.0)) as client:
                response = client.post(f"{self.url}/chat/completions", json=request)
        except httpx.HTTPError as error:
            raise LocalLLMError(
                f"The LLM server at {self.url} did not answer for model {model_id!r}: {error}"
            ) from error
        if response.status_code == 400 and "pinned" in response.text:
            raise LocalLLMError(
                f"The LLM server at {self.url} is pinned to another model and cannot serve {model_id!r} "
                f"({response.text.strip()[:200]}). Restart it unpinned: poetry run poe local-llm-down, then "
                "poetry run poe local-llm-up."
            )
        if response.status_code >= 400:
            raise LocalLLMError(
                f"The LLM server at {self.url} could not serve model {model_id!r}: HTTP {response.status_code} "
                f"{response.text.strip()[:300]}; see {self.log_file}"
            )
        return f"{LABEL}: model {model_id!r} ready at {self.url} ({time.perf_counter() - started:.0f}s)"

    def stop(self, timeout_s: float = 10.0) -> str:
        """Stop the daemon recorded in the pid file (SIGTERM, then SIGKILL after `timeout_s`); safe to call twice."""
        return stop_pid(self.pid_file, timeout_s=timeout_s).describe(LABEL)

    def status(self) -> ServerStatus:
        pid = read_pid_file(self.pid_file)
        running = pid is not None and pid_alive(pid)
        healthy = http_ok(self.health_url, timeout_s=2.0)
        return ServerStatus(running=running, healthy=healthy, pid=pid if running else None, url=self.url)


class LlamaCppServer(LocalLLMServer):
    """The llama.cpp engine (`python -m llm_engineering.infrastructure.llamacpp.server`) on `host`:`port`, run
    as a daemon whose pid and log live in `run_dir` (the same files as `transformers serve`'s).

    It serves `model_dir`'s name from the GGUF file in that folder; for a published twin (a Hugging Face
    folder), from its GGUF export (`model.gguf_export`); otherwise (the base model's folder) from the packaged
    GGUF itself: nothing is de-quantized. Other models are loaded on their first request from a GGUF file in
    `models/<id>/` or `models/gguf/<id>.gguf`.
    """

    engine = "llamacpp"

    def __init__(
        self,
        model_dir: Path,
        port: int,
        run_dir: Path,
        host: str = "127.0.0.1",
        context_size: int = 8192,
        parallel: int = 2,
        threads: int = 0,
        max_tokens: int = 256,
    ):
        super().__init__(model_dir, port=port, run_dir=run_dir, host=host, pinned=False)
        self.context_size = context_size
        self.parallel = parallel
        self.threads = threads
        self.max_tokens = max_tokens
        self.gguf_path: Path | None = _gguf_in(self.model_dir)

    @classmethod
    def from_options(
        cls, options: LocalEngineOptions, model_id: str | None = None, pinned: bool = False
    ) -> LlamaCppServer:
        """The project's llama.cpp server on `options.port` with the options' context, slots, threads and token
        cap, serving the folders of `options.models_dir` and preloading `model_id` (default
        `options.default_model_id`). Raises ImproperlyConfigured for a model id that is not a plain folder name."""
        return cls(
            options.model_dir(model_id),
            port=options.port,
            run_dir=options.run_dir,
            context_size=options.context_size,
            parallel=options.parallel,
            threads=options.threads,
            max_tokens=options.max_tokens,
        )

    def prepare(self) -> str | None:
        """Find the GGUF to serve: the one in `model_dir`; for a published twin (a Hugging Face folder) the
        registry's Q8_0 export of its version when there is a fresh one (`model.gguf_bundle`, linked in as
        `models/gguf/<id>.gguf`), else that export written now unless fresh; else the packaged GGUF (joined
        from its package's parts once, and linked in as `models/gguf/<id>.gguf`). Returns a line when it exported or took the registry's file; raises
        LLMTwinError when it cannot."""
        from llm_engineering.model.gguf_export import ensure_gguf_export, exported_gguf_path

        if self.gguf_path is not None:
            return None
        target = exported_gguf_path(self.model_dir.parent, self.served_model_id)
        if not is_published_model(self.model_dir):
            # Linked in under its id too: a running server started with a twin finds the base model by name.
            self.gguf_path = _link_export(target, packaged_gguf(self.model_dir.parent))
            return None
        from llm_engineering.model.gguf_bundle import registered_gguf

        registered = registered_gguf(self.model_dir)
        if registered is not None:
            self.gguf_path = _link_export(target, registered)
            return f"{self.label}: serving {self.served_model_id!r} from its registered export {registered}"
        started = time.perf_counter()
        packaged = packaged_gguf(self.model_dir.parent)
        self.gguf_path, written = ensure_gguf_export(self.model_dir, packaged, target)
        if written:
            return f"{self.label}: exported {self.served_model_id!r} to {target} ({time.perf_counter() - started:.0f}s)"
        return None

    def _check_model(self) -> None:
        if self.gguf_path is None or not self.gguf_path.is_file():
            raise LocalLLMError(f"No GGUF file to serve as {self.served_model_id!r}; run prepare() first.")

    def _environment(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1"}

    def command(self) -> list[str]:
        """The command line of the llama.cpp server process (this interpreter)."""
        return [
            sys.executable,
            "-m",
            "llm_engineering.infrastructure.llamacpp.server",
            "--model",
            f"{self.served_model_id}={self.gguf_path}",
            "--models-dir",
            str(self.model_dir.parent),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--context-size",
            str(self.context_size),
            "--parallel",
            str(self.parallel),
            "--threads",
            str(self.threads),
            "--max-tokens",
            str(self.max_tokens),
        ]


def _link_export(target: Path, source: Path) -> Path:
    """`target` made a relative link to the registry's GGUF `source` (replacing an export written there
    before, and its note), so a running server finds the model by name; `source` itself when the file system
    has no links (it is then served from the command line only)."""
    if target.is_symlink() and target.resolve() == source.resolve():
        return source
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        target.with_name(target.name + ".json").unlink(missing_ok=True)
        target.symlink_to(os.path.relpath(source.resolve(), target.parent.resolve()))
    except (OSError, NotImplementedError):
        pass  # no links here: the server still gets `source` on its command line
    return source


def _gguf_in(model_dir: Path) -> Path | None:
    files = sorted(model_dir.glob("*.gguf")) if model_dir.is_dir() else []
    return files[0] if files else None


def is_local_server_url(base_url: str, port: int) -> bool:
    """True when `base_url` is the local server's: plain HTTP at a loopback address on `port`."""
    target = urlparse(base_url)
    return target.scheme == "http" and target.hostname in LOOPBACK_HOSTS and target.port == port
