"""This checkout's local ZenML server (`zenml login --local`): which port it listens on, and whether it runs.

Each checkout serves its own store (`zenml_home.py`), so two checkouts' dashboards cannot share a port. A
checkout takes 8237 (ZenML's default) when it is free and keeps the port it got, remembered in
`LOCAL_DATA_DIR/run/zenml-dashboard-port`, so its dashboard's address stays put across restarts. When that port
is taken by something else (another checkout's dashboard, or any program), the next free one from 8238 on is
taken, remembered and said. ZenML records the server it starts under its config folder
(`zen_server/daemon/service.json` and `service.pid`): a server running from this checkout's folder is its own,
whoever started it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.infrastructure.local.processes import pid_alive, port_open, read_pid_file
from llm_engineering.infrastructure.local.zenml_dashboard import DEFAULT_ZENML_PORT, ZenMLDashboard

PORT_FILE_NAME = "zenml-dashboard-port"
# Ports tried, in order, when the remembered one (or 8237) is taken.
SEARCHED_PORTS = range(DEFAULT_ZENML_PORT + 1, DEFAULT_ZENML_PORT + 100)


@dataclass(frozen=True)
class PortChoice:
    """The port this checkout's server uses, and a line saying why it moved (None when it did not)."""

    port: int
    moved: str | None = None


def port_file(run_dir: Path) -> Path:
    return run_dir / PORT_FILE_NAME


def remembered_port(run_dir: Path) -> int | None:
    """The port this checkout's dashboard got on its first start, or None before one."""
    try:
        port = int(port_file(run_dir).read_text().strip())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def checkout_dashboard(run_dir: Path, host: str = "127.0.0.1") -> ZenMLDashboard:
    """This checkout's dashboard: on its remembered port, else ZenML's default 8237."""
    return ZenMLDashboard(host=host, port=remembered_port(run_dir) or DEFAULT_ZENML_PORT)


def daemon_port(zenml_config: Path) -> int | None:
    """The port of the local ZenML server started from `zenml_config` (by `zenml login --local`, from this
    project or by hand), when its process is alive; else None."""
    daemon = zenml_config / "zen_server" / "daemon"
    pid = read_pid_file(daemon / "service.pid")
    if pid is None or not pid_alive(pid):
        return None
    try:
        service = json.loads((daemon / "service.json").read_text())
        return int(service["config"]["server"]["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def choose_port(run_dir: Path, taken: Callable[[int], bool] = lambda port: port_open("127.0.0.1", port)) -> PortChoice:
    """The port to start this checkout's server on: the remembered one (8237 at first) unless `taken`, else the
    first free one of 8238-8336, remembered from then on. Raises ImproperlyConfigured when none is free."""
    wanted = remembered_port(run_dir) or DEFAULT_ZENML_PORT
    if not taken(wanted):
        _remember(run_dir, wanted)
        return PortChoice(wanted)
    for port in SEARCHED_PORTS:
        if port != wanted and not taken(port):
            _remember(run_dir, port)
            return PortChoice(
                port,
                f"port {wanted} is taken (another checkout's ZenML dashboard, or another program): this checkout's "
                f"dashboard uses {port} from now on",
            )
    raise ImproperlyConfigured(
        f"No free port for the ZenML dashboard: {wanted} and {SEARCHED_PORTS.start}-{SEARCHED_PORTS.stop - 1} are "
        f"taken. Write a free port into {port_file(run_dir)}."
    )


def _remember(run_dir: Path, port: int) -> None:
    if remembered_port(run_dir) != port:
        run_dir.mkdir(parents=True, exist_ok=True)
        port_file(run_dir).write_text(f"{port}\n")
