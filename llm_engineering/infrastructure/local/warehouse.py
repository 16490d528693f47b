"""Start, stop and inspect the local infrastructure: the warehouse (Docker or `nx-27017`) and ZenML's dashboard,
plus a throwaway embedded warehouse for tests and benches (`embedded_warehouse`).

Each `up` records what it started under `LOCAL_DATA_DIR/run/`, so `down` stops only that, and both are
safe to run twice.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from llm_engineering.infrastructure.local.processes import (
    LOOPBACK_HOSTS,
    free_port,
    http_ok,
    port_open,
    stop_pid,
    stop_process,
    venv_executable,
    wait_for_port,
)
from llm_engineering.settings import Settings

ZENML_DASHBOARD_URL = "http://127.0.0.1:8237"


@dataclass(frozen=True)
class Endpoint:
    """Where the warehouse listens, as read from DATABASE_HOST."""

    host: str
    port: int

    @property
    def is_local(self) -> bool:
        return self.host in LOOPBACK_HOSTS


def warehouse_endpoint(settings: Settings) -> Endpoint:
    """The first host and port of DATABASE_HOST (27017 when it names none)."""
    parsed = urlparse(settings.DATABASE_HOST)
    host = (parsed.hostname or "127.0.0.1").split(",")[0]
    return Endpoint(host=host, port=parsed.port or 27017)


@contextmanager
def embedded_warehouse(data_dir: Path | None = None, timeout_s: float = 60.0) -> Iterator[str]:
    """Run a throwaway nx-27017 server on a free port for the duration of the block; yield its URI.

    `data_dir` keeps the data between runs (benches reuse it); by default a temp folder is used and removed.
    """
    owned = data_dir is None
    folder = Path(tempfile.mkdtemp(prefix="nx-27017-")) if data_dir is None else data_dir
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = folder / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            # Own pid file: with the default (/tmp/nx_27017.pid) a second server on the machine exits at start.
            [
                _nx_executable(),
                "--data-dir",
                str(folder),
                "--host",
                "127.0.0.1",
                "-p",
                str(port),
                "--pid-file",
                str(folder / "nx-27017.pid"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            if not wait_for_port("127.0.0.1", port, timeout_s=timeout_s, process=process):
                raise RuntimeError(
                    f"nx-27017 did not answer on port {port} (exit code {process.poll()}): "
                    f"{log_path.read_text()[-1000:]}"
                )
            yield f"mongodb://127.0.0.1:{port}"
        finally:
            stop_process(process, timeout_s=10)
            if owned:
                shutil.rmtree(folder, ignore_errors=True)


def docker_available() -> bool:
    """True when a Docker engine answers (the client alone is not enough)."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


class LocalInfrastructure:
    """The local warehouse and ZenML dashboard, started and stopped as one unit."""

    def __init__(self, settings: Settings, project_root: Path | None = None):
        self.settings = settings
        self.project_root = project_root or Path.cwd()
        self.run_dir = settings.LOCAL_DATA_DIR / "run"
        self.state_file = self.run_dir / "infrastructure.json"
        self.nx_pid_file = self.run_dir / "nx-27017.pid"
        self.nx_log_file = self.run_dir / "nx-27017.log"

    # --- State -----------------------------------------------------------------------------
    def _read_state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _write_state(self, state: dict) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(state, indent=2))

    # --- Warehouse -------------------------------------------------------------------------
    def start_warehouse(self, prefer_docker: bool = True) -> str:
        endpoint = warehouse_endpoint(self.settings)
        state = self._read_state()
        if not endpoint.is_local:
            return f"warehouse: DATABASE_HOST points at {endpoint.host}:{endpoint.port}; nothing to start locally"
        if port_open(endpoint.host, endpoint.port):
            return f"warehouse: already answering on {endpoint.host}:{endpoint.port}"
        if prefer_docker and docker_available():
            subprocess.run(["docker", "compose", "up", "-d"], cwd=self.project_root, check=True)
            state["warehouse"] = {"kind": "docker"}
            self._write_state(state)
            started = wait_for_port(endpoint.host, endpoint.port, timeout_s=60)
            return f"warehouse: docker compose up -d ({'ready' if started else 'not answering yet'})"
        data_file = self.settings.warehouse_local_file
        data_file.parent.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        command = [
            _nx_executable(),
            "-d",
            "--data-dir",
            str(data_file.parent.resolve()),
            "--host",
            "127.0.0.1" if endpoint.host == "localhost" else endpoint.host,
            "-p",
            str(endpoint.port),
            "--pid-file",
            str(self.nx_pid_file.resolve()),
            "--log-file",
            str(self.nx_log_file.resolve()),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=30)
        if not wait_for_port(endpoint.host, endpoint.port, timeout_s=15):
            raise RuntimeError(f"nx-27017 did not start on port {endpoint.port}; see {self.nx_log_file}")
        state["warehouse"] = {"kind": "nx-27017", "port": endpoint.port, "data_dir": str(data_file.parent)}
        self._write_state(state)
        return f"warehouse: nx-27017 started on {endpoint.host}:{endpoint.port} (data in {data_file.parent})"

    def stop_warehouse(self) -> str:
        state = self._read_state()
        started = state.pop("warehouse", None)
        if not started:
            return "warehouse: nothing started by local-infrastructure-up"
        if started["kind"] == "docker":
            subprocess.run(["docker", "compose", "stop"], cwd=self.project_root, check=False)
            message = "warehouse: docker compose stop"
        else:
            message = "warehouse: " + stop_pid(self.nx_pid_file, timeout_s=5.0).describe("nx-27017")
        self._write_state(state)
        return message

    # --- ZenML dashboard -------------------------------------------------------------------
    def start_zenml(self) -> str:
        if http_ok(f"{ZENML_DASHBOARD_URL}/health", timeout_s=1.0):
            return f"zenml: dashboard already up at {ZENML_DASHBOARD_URL}"
        result = subprocess.run(
            [venv_executable("zenml"), "login", "--local"], capture_output=True, text=True, timeout=180, check=False
        )
        if result.returncode != 0:
            return f"zenml: `zenml login --local` failed: {result.stderr.strip()[-400:]}"
        state = self._read_state()
        state["zenml"] = True
        self._write_state(state)
        return f"zenml: dashboard at {ZENML_DASHBOARD_URL}"

    def stop_zenml(self) -> str:
        state = self._read_state()
        if not state.pop("zenml", None):
            return "zenml: dashboard not started by local-infrastructure-up"
        subprocess.run([venv_executable("zenml"), "logout", "--local"], capture_output=True, timeout=120, check=False)
        self._write_state(state)
        return "zenml: dashboard stopped"

    # --- Status ----------------------------------------------------------------------------
    def status(self) -> list[str]:
        endpoint = warehouse_endpoint(self.settings)
        state = self._read_state()
        started = state.get("warehouse", {}).get("kind", "not started by this project")
        up = port_open(endpoint.host, endpoint.port)
        lines = [
            (
                f"warehouse   {self.settings.DATABASE_HOST.split('@')[-1]}  db={self.settings.DATABASE_NAME}  "
                f"{'UP' if up else 'DOWN'}  ({started})"
            ),
        ]
        if self.settings.qdrant_mode == "local":
            lines.append(f"vector DB   embedded Qdrant in {self.settings.qdrant_local_path} (opened by each process)")
        else:
            url = self.settings.qdrant_server_url or ""
            lines.append(
                f"vector DB   Qdrant server {url}  {'UP' if http_ok(url + '/readyz', timeout_s=1.0) else 'DOWN'}"
            )
        zenml_up = http_ok(f"{ZENML_DASHBOARD_URL}/health", timeout_s=1.0)
        lines.append(f"zenml       {ZENML_DASHBOARD_URL}  {'UP' if zenml_up else 'DOWN'}")
        llm_url = self.settings.LLM_BASE_URL
        lines.append(f"llm         {llm_url}  {'UP' if http_ok(llm_url + '/models', timeout_s=1.0) else 'DOWN'}")
        return lines


def _nx_executable() -> str:
    return venv_executable("nx-27017")
