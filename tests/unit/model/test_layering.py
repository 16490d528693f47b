"""The model layer never reaches into infrastructure or the composition root: infrastructure may import it,
never the reverse. (It may use the domain and the application's pure helpers, e.g. the dataset file loader;
the full room order is in tests/unit/architecture/test_layers.py.)"""

from tests.conftest import PROJECT_ROOT

FORBIDDEN = ("llm_engineering.infrastructure", "llm_engineering.bootstrap")


def test_model_imports_no_infrastructure_or_bootstrap():
    offenders = []
    for path in (PROJECT_ROOT / "llm_engineering" / "model").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")) and any(name in stripped for name in FORBIDDEN):
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {stripped}")
    assert offenders == []
