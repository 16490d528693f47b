"""`running_api` starts any ASGI app under a real uvicorn process, by import string or factory."""

import json
import urllib.request

import pytest

from llm_engineering.infrastructure.local.api_server import api_command, running_api
from tests.waiting import CEILING_S

pytestmark = pytest.mark.integration

APP = """
import json


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = json.dumps({"path": scope["path"]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def make_app():
    return app
"""


def test_api_command_passes_the_target_and_the_factory_flag():
    command = api_command("pkg.module:create", "127.0.0.1", 8123, factory=True, log_level="warning")
    assert command[1:4] == ["-m", "uvicorn", "pkg.module:create"]
    assert command[command.index("--port") + 1] == "8123"
    assert "--factory" in command and command[command.index("--log-level") + 1] == "warning"
    assert "--factory" not in api_command("pkg.module:app", "127.0.0.1", 8123)


@pytest.mark.parametrize(("target", "factory"), [("tiny_asgi:app", False), ("tiny_asgi:make_app", True)])
def test_running_api_serves_then_stops(tmp_path, target, factory):
    (tmp_path / "tiny_asgi.py").write_text(APP)
    with running_api(target, tmp_path / "api.log", factory=factory, cwd=tmp_path, startup_timeout_s=CEILING_S) as base:
        answer = json.loads(urllib.request.urlopen(f"{base}/health", timeout=CEILING_S).read())
    assert answer == {"path": "/health"}
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}/health", timeout=2)


def test_a_failing_app_raises_with_its_log(tmp_path):
    with (
        pytest.raises(RuntimeError, match="no_such_module"),
        running_api("no_such_module:app", tmp_path / "api.log", cwd=tmp_path, startup_timeout_s=CEILING_S),
    ):
        pass
