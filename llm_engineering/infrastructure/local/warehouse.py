"""The MongoDB-compatible warehouse server on this machine: where DATABASE_HOST points (`warehouse_endpoint`),
the embedded `nx-27017` server's executable, whether Docker can run the compose file instead, and a throwaway
embedded warehouse for tests and benches (`embedded_warehouse`). `local_infrastructure.py` starts and stops
the warehouse for `poe local-infrastructure-up/down`.
"""

from __future__ import annotations

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
    stop_process,
    venv_executable,
    wait_for_port,
)


@dataclass(frozen=True)
class Endpoint:
    """Where the warehouse listens, as read from DATABASE_HOST."""

    host: str
    port: int

    @property
    def is_local(self) -> bool:
        return self.host in LOOPBACK_HOSTS


def warehouse_endpoint(database_host: str) -> Endpoint:
    """The first host and port of a MongoDB URI such as DATABASE_HOST (27017 when it names none)."""
    parsed = urlparse(database_host)
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
                nx_executable(),
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


def nx_executable() -> str:
    """The virtualenv's `nx-27017` console script (the embedded MongoDB wire-protocol server)."""
    return venv_executable("nx-27017")
