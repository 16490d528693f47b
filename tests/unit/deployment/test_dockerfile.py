"""The Dockerfile read as text: a builder, a runtime base and the two targets (`api`, `pipelines`), both as a
non-root user; the API's health check asks the real health route; what it copies exists and is not ignored."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field

import pytest

from tests.conftest import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "Dockerfile"
_FROM = re.compile(r"^FROM\s+(?P<image>\S+)(?:\s+AS\s+(?P<name>\S+))?$", re.IGNORECASE)


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [argument for key, argument in self.instructions if key == keyword]


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        current += " " + stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [(item.split(None, 1)[0].upper(), item.split(None, 1)[1] if " " in item else "") for item in logical]


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    found: dict[str, Stage] = {}
    current = None
    for keyword, argument in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if keyword == "FROM":
            match = _FROM.match(f"FROM {argument}")
            assert match, argument
            current = Stage(match["name"] or f"stage{len(found)}", match["image"])
            found[current.name] = current
        elif current is not None:
            current.instructions.append((keyword, argument))
    return found


def _lineage(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, outermost first."""
    chain = [stages[name]]
    while chain[0].base in stages:
        chain.insert(0, stages[chain[0].base])
    return chain


def _final_user(stages: dict[str, Stage], name: str) -> str | None:
    users = [user for stage in _lineage(stages, name) for user in stage.all("USER")]
    return users[-1] if users else None


def test_stages_and_targets(stages):
    assert list(stages) == ["builder", "runtime", "api", "pipelines"]
    assert stages["builder"].base == stages["runtime"].base == "${PYTHON_IMAGE}"
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim-bookworm$", DOCKERFILE.read_text(), re.MULTILINE)
    assert stages["api"].base == stages["pipelines"].base == "runtime"


@pytest.mark.parametrize("target", ["api", "pipelines"])
def test_targets_run_as_the_unprivileged_app_user(stages, target):
    user = _final_user(stages, target)
    assert user is not None, f"{target} runs as root"
    assert user.split(":")[0] not in ("root", "0")
    assert user.split(":")[0] in ("app", "10001")
    assert any("--uid 10001" in run for run in stages["runtime"].all("RUN"))


def test_builder_pins_poetry_and_installs_the_lock_without_dev_into_a_venv(stages):
    builder = stages["builder"]
    args = dict(arg.split("=", 1) for arg in builder.all("ARG") if "=" in arg)
    assert re.fullmatch(r"\d+\.\d+\.\d+", args["POETRY_VERSION"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", args["POETRY_PLUGIN_PYPI_MIRROR_VERSION"])
    runs = " ".join(builder.all("RUN"))
    assert '"poetry==${POETRY_VERSION}"' in runs and "poetry-plugin-pypi-mirror==" in runs
    # pip's own default index, computed at build time: never a host written into the file.
    assert runs.count("POETRY_PYPI_MIRROR_URL=\"$(python -c 'from pip._internal.models.index import PyPI;") == 2
    assert "--without dev" in runs and "--no-root" in runs and "--only-root" in runs
    assert "VIRTUAL_ENV=/opt/venv" in " ".join(builder.all("ENV"))
    assert not re.search(r"https?://", DOCKERFILE.read_text(encoding="utf-8").replace("http://127.0.0.1:8000", ""))


def test_runtime_gets_only_the_venv_and_the_code(stages):
    copies = stages["runtime"].all("COPY")
    assert copies == ["--from=builder /opt/venv /opt/venv", "--from=builder /app /app"]
    assert not any("poetry" in run for run in stages["runtime"].all("RUN"))


def _copied_sources(stage: Stage) -> list[str]:
    """What the stage's COPY instructions take from the build context (every argument but the destination)."""
    return [source for copy in stage.all("COPY") if "--from=" not in copy for source in shlex.split(copy)[:-1]]


def test_builder_copies_every_package_of_the_project(stages):
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {entry["include"] for entry in pyproject["tool"]["poetry"]["packages"]}
    copied = set(_copied_sources(stages["builder"]))
    assert packages | {"pyproject.toml", "poetry.lock", "README.md"} <= copied
    for source in copied:
        assert (PROJECT_ROOT / source).exists(), source


def test_dockerignore_keeps_what_the_build_copies_and_drops_secrets_and_data(stages):
    patterns = [
        line.strip()
        for line in (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        result = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            pattern = pattern.lstrip("!").rstrip("/").removeprefix("**/")
            if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path.split("/")[-1], pattern):
                result = not negate
        return result

    for source in _copied_sources(stages["builder"]):
        assert not ignored(source), f"{source} is copied but .dockerignore leaves it out of the context"
    for path in (".env", ".git", ".local", "output", "data", "lint/node_modules", ".venv", ".pytest_cache"):
        assert ignored(path), path
    assert not ignored(".env.example")


def test_api_target_serves_uvicorn_on_8000_with_a_health_check_on_the_real_route(stages):
    from llm_engineering.entrypoints.api.routes import health

    api = stages["api"]
    assert api.all("EXPOSE") == ["8000"]
    assert json.loads(api.all("CMD")[-1]) == [
        "uvicorn",
        "tools.ml_service:app",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
    ]
    (check,) = api.all("HEALTHCHECK")
    url = re.search(r"http://127\.0\.0\.1:8000(/\w+)", check)
    assert url, check
    assert url[1] in {route.path for route in health.router.routes}
    assert "urllib.request" in check and "curl" not in check
    # The probe is Python the image can run.
    code = re.search(r'"-c",\s*"(.+)"\]$', check)
    assert code, check
    compile(code[1], "<healthcheck>", "exec")


def test_pipelines_target_has_chromium_its_driver_and_git(stages):
    pipelines = stages["pipelines"]
    install = " ".join(pipelines.all("RUN"))
    for package in ("chromium", "chromium-driver", "git"):
        assert re.search(rf"\s{re.escape(package)}(\s|$)", install), package
    assert "rm -rf /var/lib/apt/lists/*" in install
    env = " ".join(pipelines.all("ENV"))
    assert "CHROMEDRIVER_PATH=/usr/bin/chromedriver" in env and "CHROMIUM_PATH=/usr/bin/chromium" in env
    assert json.loads(pipelines.all("CMD")[-1]) == ["python", "-m", "tools.run", "--help"]
    # Package installs happen before USER switches away from root.
    keywords = [key for key, _ in pipelines.instructions]
    assert keywords.index("RUN") < keywords.index("USER")
