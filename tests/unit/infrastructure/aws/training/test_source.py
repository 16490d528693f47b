"""The source archive: the fine-tuning folder at its root without caches or secrets, reproducible, and holding
every project module `finetune.py` imports."""

from __future__ import annotations

import io
import tarfile

from llm_engineering.infrastructure.aws.training.source import (
    FINETUNING_SOURCE_DIR,
    finetuning_support_files,
    package_source,
)
from tests.unit.infrastructure.aws.training.conftest import make_spec


def test_the_archive_holds_the_folder_at_its_root_without_caches_or_env_and_is_reproducible(source_dir, tmp_path):
    shared = tmp_path / "prompts.py"
    shared.write_text("TEMPLATE = '{instruction}'\n")
    archive = package_source(source_dir, {"llm_engineering/domain/prompts.py": shared})
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = tar.getnames()
        requirements = tar.extractfile("requirements.txt").read()  # type: ignore[union-attr]
        assert all(member.mtime == 0 and member.uid == 0 for member in tar.getmembers())
    assert names == ["finetune.py", "llm_engineering/domain/prompts.py", "recipes/sft.yaml", "requirements.txt"]
    assert requirements == b"trl==0.9.6\n"
    assert package_source(source_dir, {"llm_engineering/domain/prompts.py": shared}) == archive


def test_requirements_kept_elsewhere_are_packed_as_requirements_txt(source_dir, tmp_path):
    other = tmp_path / "gpu-requirements.txt"
    other.write_text("unsloth\n")
    spec = make_spec(source_dir, requirements_file=other)
    archive = package_source(spec.source_dir, spec.archive_extra_files())
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert tar.extractfile("requirements.txt").read() == b"unsloth\n"  # type: ignore[union-attr]


def test_the_job_archive_holds_every_project_module_finetune_imports(tmp_path):
    import ast
    import gzip
    import io
    import subprocess
    import sys
    import tarfile

    archive = package_source(FINETUNING_SOURCE_DIR, finetuning_support_files())
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(archive))) as tar:
        tar.extractall(tmp_path, filter="data")
    assert (tmp_path / "finetune.py").is_file() and (tmp_path / "training.yaml").is_file()
    assert (tmp_path / "requirements.txt").is_file()

    def project_imports(path):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("llm_engineering"):
                yield node.module
            elif isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names if alias.name.startswith("llm_engineering"))

    # finetune.py imports the finetuning package as llm_engineering.model.finetuning.*: every project module
    # reachable from the packed files must be packed too.
    packed = [tmp_path / "finetune.py", *(tmp_path / "llm_engineering").rglob("*.py")]
    missing = set()
    for path in packed:
        for module in project_imports(path):
            relative = module.replace(".", "/")
            if not ((tmp_path / f"{relative}.py").is_file() or (tmp_path / relative / "__init__.py").is_file()):
                missing.add(f"{module} (imported by {path.relative_to(tmp_path)})")
    assert not missing

    result = subprocess.run(
        [sys.executable, "finetune.py", "--help"], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "--preference" in result.stdout
