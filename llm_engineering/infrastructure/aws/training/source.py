"""The source archive a SageMaker training job downloads: the fine-tuning folder at the archive's root, plus
the project modules `finetune.py` imports and the training config, as a reproducible tar.gz."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from llm_engineering.domain.exceptions import ImproperlyConfigured

FINETUNING_SOURCE_DIR = Path(__file__).resolve().parents[3] / "model" / "finetuning"
SOURCE_ARCHIVE_NAME = "sourcedir.tar.gz"
MAX_SOURCE_ARCHIVE_BYTES = 100 * 1024 * 1024
_SKIPPED_NAMES = frozenset({"__pycache__", ".git", ".ipynb_checkpoints", ".DS_Store", ".pytest_cache", ".env"})


def safe_archive_name(name: str) -> bool:
    """True for a relative POSIX path that stays inside the archive (no `..`, no backslash)."""
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name


def package_source(source_dir: Path, extra_files: Mapping[str, Path] | None = None) -> bytes:
    """The tar.gz the job downloads: `source_dir`'s files at the archive root, then `extra_files`.

    `extra_files` maps archive names to local files and replaces source files of the same name. Caches
    (`__pycache__`, `.git`, ...) are left out. The archive is reproducible: sorted names, zero times and
    owners. Raises ImproperlyConfigured when it would exceed MAX_SOURCE_ARCHIVE_BYTES.
    """
    source_dir = Path(source_dir)
    extra = dict(extra_files or {})
    members: dict[str, Path] = {}
    for path in sorted(source_dir.rglob("*")):
        relative = path.relative_to(source_dir)
        if any(part in _SKIPPED_NAMES for part in relative.parts) or path.suffix == ".pyc" or not path.is_file():
            continue
        members[relative.as_posix()] = path
    for name, path in extra.items():
        if not safe_archive_name(name):
            raise ImproperlyConfigured(f"Extra file name {name!r} must be a relative path inside the archive.")
        members[PurePosixPath(name).as_posix()] = Path(path)

    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        for name in sorted(members):
            data = members[name].read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if members[name].stat().st_mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(data))
    archive = buffer.getvalue()
    if len(archive) > MAX_SOURCE_ARCHIVE_BYTES:
        raise ImproperlyConfigured(
            f"The source archive of {source_dir} is {len(archive) // 2**20} MiB: keep weights and data out "
            "of the training source folder (the job downloads them itself)."
        )
    return archive


def finetuning_support_files() -> dict[str, Path]:
    """What `finetune.py` imports besides its own folder, packed beside it in the job's archive: the
    `llm_engineering` package's domain and model layers, the application modules the model layer uses (the
    evaluation judge and its LLM port, the served-model ports), and the training config (as
    `training.yaml`). Their own imports stay inside these modules (checked by the layer tests)."""
    package = FINETUNING_SOURCE_DIR.parents[1]
    application = package / "application"
    modules = [
        package / "__init__.py",
        application / "__init__.py",
        application / "errors.py",
        application / "ports.py",
        application / "deadline.py",  # the LLM retry policy honours request deadlines
        application / "progress.py",  # training logs its steps and time left with it
    ]
    # The question set's loader and the answer figures share the guard's word measures.
    modules += [application / "rag" / name for name in ("__init__.py", "answer_quality.py")]
    # The model layer's serving catalogue implements the served-model use case's ports.
    for folder in ("evaluation", "llm", "serving"):
        modules += sorted((application / folder).glob("*.py"))
    for layer in ("domain", "model"):
        modules += sorted((package / layer).rglob("*.py"))
    files = {f"llm_engineering/{path.relative_to(package).as_posix()}": path for path in modules}
    files["training.yaml"] = package.parent / "configs" / "training.yaml"
    return files
