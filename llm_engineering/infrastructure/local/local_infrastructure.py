"""Start, stop and inspect the local infrastructure as one unit (`LocalInfrastructure`, behind
`poe local-infrastructure-up/down/status`): the warehouse (Docker or `nx-27017`, see `warehouse.py`) and ZenML's
dashboard, with the vector DB and the local LLM in the status.

Each `up` records what it started under `LOCAL_DATA_DIR/run/`, so `down` stops only that, and both are
safe to run twice. The ZenML server serves this checkout's store (`zenml_home.py`) on this checkout's port
(`zenml_server.py`), so checkouts never stop or share each other's.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.local.processes import (
    LOOPBACK_HOSTS,
    http_ok,
    pid_alive,
    port_open,
    read_pid_file,
    stop_pid,
    stop_process,
    venv_executable,
    wait_for_port,
)
from llm_engineering.infrastructure.local.warehouse import docker_available, nx_executable, warehouse_endpoint
from llm_engineering.infrastructure.local.zenml_dashboard import (
    DEFAULT_ZENML_PORT,
    DashboardSetup,
    ZenMLDashboard,
    prepare_dashboard,
)
from llm_engineering.infrastructure.local.zenml_server import checkout_dashboard, choose_port, daemon_port
from llm_engineering.infrastructure.zenml_home import (
    CONFIG_PATH_VARIABLE,
    DEFAULTED_VARIABLE,
    machine_zenml_path,
    zenml_home,
)

if TYPE_CHECKING:
    from llm_engineering.infrastructure.local.llm_server import LocalEngineOptions

UP_TOOL = "local-infrastructure-up"
# Environment of the `zenml` commands run here: no usage analytics from the CLI nor from the server daemon
# (which copies the CLI's setting), and no browser tab opened on a dashboard not prepared yet.
ZENML_ENV = {"ZENML_ANALYTICS_OPT_IN": "false", "ZENML_AUTO_OPEN_DASHBOARD": "false"}
ZENML_START_TIMEOUT_S = 180.0
PROGRESS_EVERY_S = 10.0


def describe_service(up: bool, kind: str | None = None, started_by: str | None = None) -> str:
    """The state part of a status line: `UP (nx-27017, started by local-infrastructure-up)`,
    `UP (not started by this project)`, `DOWN`, or, for something recorded as started that no longer answers,
    `DOWN (nx-27017 started by local-infrastructure-up is not answering)`."""
    if up:
        return f"UP ({kind}, started by {started_by})" if started_by else "UP (not started by this project)"
    if started_by:
        return f"DOWN ({kind} started by {started_by} is not answering)"
    return "DOWN"


@dataclass(frozen=True)
class LocalServices:
    """Where this checkout's services live, as the settings say (built by `bootstrap.local_services`).

    `qdrant_local_path` is set for embedded Qdrant, `qdrant_server_url` for a server; `local_llm` holds the
    local LLM server's options when LLM_BASE_URL is that server, else None.
    """

    data_dir: Path
    database_host: str
    database_name: str
    warehouse_file: Path
    llm_base_url: str
    qdrant_local_path: Path | None = None
    qdrant_server_url: str | None = None
    local_llm: LocalEngineOptions | None = None


class LocalInfrastructure:
    """The local warehouse and ZenML dashboard, started and stopped as one unit."""

    def __init__(self, services: LocalServices, project_root: Path | None = None, zenml_port: int | None = None):
        """`zenml_port`: the dashboard's port (default: this checkout's, see `zenml_server.choose_port`)."""
        self.services = services
        self.project_root = project_root or Path.cwd()
        self.run_dir = services.data_dir / "run"
        self.zenml_home = zenml_home(services.data_dir)
        self._zenml_port = zenml_port
        self.state_file = self.run_dir / "infrastructure.json"
        self.nx_pid_file = self.run_dir / "nx-27017.pid"
        self.nx_log_file = self.run_dir / "nx-27017.log"
        self.zenml_log_file = self.run_dir / "zenml-login.log"

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
        endpoint = warehouse_endpoint(self.services.database_host)
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
        data_file = self.services.warehouse_file
        data_file.parent.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        command = [
            nx_executable(),
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
            return f"warehouse: nothing started by {UP_TOOL}"
        if started["kind"] == "docker":
            subprocess.run(["docker", "compose", "stop"], cwd=self.project_root, check=False)
            message = "warehouse: docker compose stop"
        else:
            message = "warehouse: " + stop_pid(self.nx_pid_file, timeout_s=5.0).describe("nx-27017")
        self._write_state(state)
        return message

    # --- ZenML dashboard -------------------------------------------------------------------
    @property
    def dashboard(self) -> ZenMLDashboard:
        """This checkout's dashboard: the port given, else its running server's, else its remembered one."""
        if self._zenml_port is not None:
            return ZenMLDashboard(port=self._zenml_port)
        running = daemon_port(self.zenml_home.path) if self.zenml_home.path is not None else None
        return ZenMLDashboard(port=running) if running is not None else checkout_dashboard(self.run_dir)

    def _zenml_environment(self, config_path: str | None) -> dict[str, str]:
        """The environment of a `zenml` command on the store in `config_path` (None: ZenML's own default)."""
        environment = {**os.environ, **ZENML_ENV}
        if config_path is not None:
            environment[CONFIG_PATH_VARIABLE] = config_path
        elif environment.get(CONFIG_PATH_VARIABLE) == environment.get(DEFAULTED_VARIABLE):
            environment.pop(CONFIG_PATH_VARIABLE, None)  # this project's default, not the store asked for
        return environment

    def start_zenml(self, progress: Callable[[str], None] = lambda line: None) -> str:
        """Start this checkout's local ZenML server (`zenml login --local` on its store and port, about 30 s) with
        analytics off, skip the dashboard's first-visit survey, and return where things are (several lines).

        `progress` receives a line when the start begins, every 10 s while it runs, and when it is ready.
        """
        home = self.zenml_home
        if home.path is None:
            return f"zenml: ZENML_STORE_URL points ZenML at {home.store_url}; no local server to start"
        state = self._read_state()
        earlier = self._started_zenml(state) or {}
        if earlier and "config_path" not in earlier and http_ok(ZenMLDashboard(port=earlier["port"]).health_url):
            # Started before stores were per checkout: it serves the machine-wide store, other checkouts may use it.
            return (
                f"zenml: the dashboard on port {earlier['port']} was started by an earlier {UP_TOOL} on the "
                f"machine-wide ZenML store; `poe local-infrastructure-down`, then up, serves this checkout's store "
                f"({home.path}) instead"
            )
        running = daemon_port(home.path)
        if running is not None and self._zenml_port in (None, running):
            dashboard = ZenMLDashboard(port=running)
            if http_ok(dashboard.health_url, timeout_s=1.0):
                lines = [f"zenml: already up at {dashboard.url} (store {home.path})"]
                if not earlier:
                    lines.append(f"       not started by {UP_TOOL}: `poe local-zenml-server-down` stops it")
                return "\n".join([*lines, *self._dashboard_guide(dashboard, prepare_dashboard(dashboard))])
        if self._zenml_port is not None:
            dashboard, moved = ZenMLDashboard(port=self._zenml_port), None
            if port_open(dashboard.host, dashboard.port):
                return (
                    f"zenml: port {dashboard.port} is taken by something that does not serve this checkout's store "
                    f"({home.path}); left alone"
                )
        else:
            choice = choose_port(self.run_dir, taken=lambda port: port_open("127.0.0.1", port))
            dashboard, moved = ZenMLDashboard(port=choice.port), choice.moved
        if moved:
            progress(f"zenml: {moved}")
        progress(f"zenml: starting the local ZenML server on {dashboard.host}:{dashboard.port} (about 30 s)...")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with self.zenml_log_file.open("w") as log:
            process = subprocess.Popen(
                [venv_executable("zenml"), "login", "--local", "--port", str(dashboard.port)],
                stdin=subprocess.DEVNULL,  # a question from the CLI fails instead of waiting for an answer
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._zenml_environment(str(home.path)),
            )
            exit_code = _wait_reporting(process, ZENML_START_TIMEOUT_S, progress, started)
        if exit_code is None:
            stop_process(process, timeout_s=10)
            return (
                f"zenml: `zenml login --local` did not finish within {ZENML_START_TIMEOUT_S:.0f} s; "
                f"see {self.zenml_log_file}"
            )
        if exit_code != 0:
            return (
                f"zenml: `zenml login --local` failed (exit code {exit_code}); see {self.zenml_log_file}:\n"
                f"{_tail(self.zenml_log_file)}"
            )
        state["zenml"] = {"port": dashboard.port, "config_path": str(home.path)}
        self._write_state(state)
        progress(f"zenml: ready in {time.monotonic() - started:.0f} s")
        return "\n".join(self._dashboard_guide(dashboard, prepare_dashboard(dashboard)))

    def _dashboard_guide(self, dashboard: ZenMLDashboard, setup: DashboardSetup) -> list[str]:
        """Where the runs are, and what the first visit looks like, after `prepare_dashboard`."""
        lines = [
            f"zenml: pipeline runs at {dashboard.runs_url}",
            "       no login locally (every page acts as the user 'default'); usage analytics off",
            "       a run opens its DAG; click a step or an artifact in it, then its Metadata tab",
        ]
        if setup.ok:
            lines.insert(2, "       the first-visit survey is marked answered: pages open directly")
        else:
            lines.extend(f"       note: {problem}" for problem in setup.problems)
            lines.append(
                "       if a first visit shows 'Add your account details': type any name, untick the newsletter box, "
                "Continue, and answer the two questions"
            )
        return lines

    def stop_zenml(self) -> str:
        """Stop the server `start_zenml` started, or this checkout's own server started by hand (it serves only
        this checkout's store); never another checkout's."""
        state = self._read_state()
        started = self._started_zenml(state)
        state.pop("zenml", None)
        home = self.zenml_home
        own_port = daemon_port(home.path) if home.path is not None else None
        if started:
            # A record without `config_path` comes from before stores were per checkout: the machine-wide one.
            dashboard, config_path = ZenMLDashboard(port=started["port"]), started.get("config_path")
        elif own_port is not None:
            dashboard, config_path = ZenMLDashboard(port=own_port), str(home.path)
        else:
            dashboard = self.dashboard
            if http_ok(dashboard.health_url, timeout_s=1.0):
                return (
                    f"zenml: the dashboard at {dashboard.url} was not started by {UP_TOOL} and does not serve this "
                    "checkout's store; left alone"
                )
            return f"zenml: dashboard not started by {UP_TOOL}"
        subprocess.run(
            [venv_executable("zenml"), "logout", "--local"],
            capture_output=True,
            timeout=120,
            check=False,
            env=self._zenml_environment(config_path),
        )
        self._write_state(state)
        # The CLI returns while the daemon is still shutting down: report what the port says once it closed.
        deadline = time.monotonic() + 15
        while http_ok(dashboard.health_url, timeout_s=1.0):
            if time.monotonic() >= deadline:
                return f"zenml: `zenml logout --local` ran, but the dashboard still answers at {dashboard.url}"
            time.sleep(0.5)
        return "zenml: dashboard stopped"

    # --- Status ----------------------------------------------------------------------------
    def status(self) -> list[str]:
        """One line per service: where it is, `UP`/`DOWN`, and what started it (see `describe_service`)."""
        state = self._read_state()
        endpoint = warehouse_endpoint(self.services.database_host)
        warehouse = state.get("warehouse") or {}
        kind = {"docker": "docker compose"}.get(warehouse.get("kind"), warehouse.get("kind"))
        lines = [
            (
                f"warehouse   {self.services.database_host.split('@')[-1]}  db={self.services.database_name}  "
                + describe_service(port_open(endpoint.host, endpoint.port), kind, UP_TOOL if kind else None)
            ),
        ]
        if self.services.qdrant_local_path is not None:
            lines.append(f"vector DB   embedded Qdrant in {self.services.qdrant_local_path} (opened by each process)")
        else:
            url = self.services.qdrant_server_url or ""
            # `docker compose up` starts Qdrant beside MongoDB, on the loopback port the compose file publishes.
            ours = warehouse.get("kind") == "docker" and urlparse(url).hostname in LOOPBACK_HOSTS
            up = http_ok(url + "/readyz", timeout_s=1.0)
            lines.append(
                f"vector DB   Qdrant server {url}  "
                + describe_service(up, "docker compose" if ours else None, UP_TOOL if ours else None)
            )
        lines.append(self._zenml_status(state))
        llm_url = self.services.llm_base_url
        llm_ours = self._local_llm_running()
        lines.append(
            f"llm         {llm_url}  "
            + describe_service(
                http_ok(llm_url + "/models", timeout_s=1.0),
                self._local_llm_engine() if llm_ours else None,
                "local-llm-up" if llm_ours else None,
            )
        )
        return lines

    def _zenml_status(self, state: dict) -> str:
        home = self.zenml_home
        if home.path is None:
            up = http_ok(f"{(home.store_url or '').rstrip('/')}/health", timeout_s=2.0)
            return f"zenml       {home.store_url}  (ZENML_STORE_URL)  {describe_service(up)}"
        started = self._started_zenml(state)
        dashboard = ZenMLDashboard(port=started["port"]) if started else self.dashboard
        up = http_ok(dashboard.health_url, timeout_s=1.0)
        ours = started is not None
        store = home.path
        if started and "config_path" not in started:
            store = f"{machine_zenml_path()} (machine-wide: started before stores were per checkout)"
        return f"zenml       {dashboard.url}  store {store}  " + describe_service(
            up, "ZenML local daemon" if ours else None, UP_TOOL if ours else None
        )

    def _started_zenml(self, state: dict) -> dict | None:
        """What `start_zenml` recorded: {port, config_path}; older `up`s wrote `true` (port 8237, machine store)."""
        record = state.get("zenml")
        if not record:
            return None
        return record if isinstance(record, dict) else {"port": self._zenml_port or DEFAULT_ZENML_PORT}

    def _local_llm_engine(self) -> str:
        from llm_engineering.infrastructure.local.llm_server import ENGINE_NAMES, resolve_engine

        options = self.services.local_llm
        return ENGINE_NAMES[resolve_engine(options.engine)[0]] if options else "remote"

    def _local_llm_running(self) -> bool:
        """True when LLM_BASE_URL is the local server and the pid `local-llm-up` recorded is alive."""
        from llm_engineering.infrastructure.local.llm_server import LocalLLMServer

        if self.services.local_llm is None:
            return False
        try:
            pid = read_pid_file(LocalLLMServer.from_options(self.services.local_llm).pid_file)  # every engine's
        except ImproperlyConfigured:
            return False
        return pid is not None and pid_alive(pid)


def _wait_reporting(
    process: subprocess.Popen, timeout_s: float, progress: Callable[[str], None], started: float
) -> int | None:
    """Wait for `process`, calling `progress` every PROGRESS_EVERY_S seconds; its exit code, None on timeout."""
    next_report = started + PROGRESS_EVERY_S
    while True:
        try:
            return process.wait(timeout=max(0.05, min(next_report, started + timeout_s) - time.monotonic()))
        except subprocess.TimeoutExpired:
            now = time.monotonic()
            if now - started >= timeout_s:
                return None
            if now >= next_report:
                progress(f"zenml: still starting ({now - started:.0f} s)")
                next_report += PROGRESS_EVERY_S


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
