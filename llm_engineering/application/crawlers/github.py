"""Code repositories: shallow `git clone` into a temporary folder, then a map of file path to file text."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from loguru import logger

from llm_engineering.application.crawlers.base import BaseCrawler
from llm_engineering.application.crawlers.egress import EgressPolicy
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.documents import RepositoryDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError

SKIPPED_DIRECTORIES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "vendor",
        "third_party",
        "bower_components",
        ".venv",
        "venv",
        "site-packages",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        "dist",
        "build",
        ".idea",
    }
)
LOCK_FILES = frozenset(
    {
        "poetry.lock",
        "uv.lock",
        "Pipfile.lock",
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "Cargo.lock",
        "Gemfile.lock",
        "composer.lock",
        "go.sum",
        "mix.lock",
    }
)
# Judged by name, before reading: images, archives, fonts, media, compiled code, model weights, data files.
BINARY_SUFFIXES = frozenset(
    """.png .jpg .jpeg .gif .bmp .ico .webp .tif .tiff .psd .svgz .pdf .zip .gz .tgz .bz2 .xz .7z .rar .tar .jar .war
    .whl .egg .so .dll .dylib .exe .bin .o .a .class .pyc .pyo .woff .woff2 .ttf .otf .eot .mp3 .mp4 .wav .ogg
    .flac .avi .mov .mkv .webm .pt .pth .ckpt .safetensors .onnx .h5 .hdf5 .pkl .pickle .npy .npz .parquet
    .feather .arrow .db .sqlite .sqlite3 .gguf .ds_store""".split()  # noqa: SIM905 - a word list reads better than 70 quoted items
)
_SNIFF_BYTES = 8192
# A repository's web address on GitHub: owner (GitHub's user name rules) and repository name, nothing more.
GITHUB_REPOSITORY = re.compile(
    r"^https://(?:www\.)?github\.com/[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}?(?:\.git)?/?$"
)


@dataclass
class RepositoryTree:
    """The text files kept from a checkout, and what was left out and why."""

    files: dict[str, str] = field(default_factory=dict)
    total_bytes: int = 0
    skipped: dict[str, int] = field(
        default_factory=lambda: {"vendored_or_tooling": 0, "lock": 0, "binary": 0, "too_large": 0, "symlink": 0}
    )


def repository_name(link: str) -> str:
    """`https://github.com/org/repo.git/` -> `repo`; works for local paths and file:// URLs too."""
    path = urlparse(link).path if "://" in link else link
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name.removesuffix(".git") or "repository"


def skip_reason(relative_path: Path, size: int, max_file_bytes: int) -> str | None:
    """Why a file is left out of the stored tree (None to keep it), judged on its name and size."""
    if relative_path.name in LOCK_FILES or relative_path.suffix == ".lock":
        return "lock"
    if relative_path.suffix.lower() in BINARY_SUFFIXES or relative_path.name.lower() in BINARY_SUFFIXES:
        return "binary"
    if size > max_file_bytes:
        return "too_large"
    return None


def read_text_file(path: Path) -> str | None:
    """The file's text exactly as stored (UTF-8), or None when it is binary."""
    data = path.read_bytes()
    if b"\x00" in data[:_SNIFF_BYTES]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def collect_tree(root: Path, max_file_bytes: int, max_total_bytes: int) -> RepositoryTree:
    """Walk a checkout and keep its text files, keyed by POSIX path relative to `root`."""
    tree = RepositoryTree()
    for directory, subdirectories, filenames in os.walk(root):
        kept = [name for name in subdirectories if name not in SKIPPED_DIRECTORIES]
        tree.skipped["vendored_or_tooling"] += len(subdirectories) - len(kept)
        subdirectories[:] = sorted(kept)  # prune in place so os.walk does not descend into them
        for filename in sorted(filenames):
            path = Path(directory) / filename
            relative = path.relative_to(root)
            if path.is_symlink():
                tree.skipped["symlink"] += 1
                continue
            reason = skip_reason(relative, path.stat().st_size, max_file_bytes)
            text = None if reason else read_text_file(path)
            if reason is None and text is None:
                reason = "binary"
            if reason is not None or text is None:
                tree.skipped[reason or "binary"] += 1
                continue
            key = relative.as_posix()
            if key.startswith("$"):  # MongoDB rejects field names starting with "$"
                tree.skipped["binary"] += 1
                continue
            tree.files[key] = text
            tree.total_bytes += len(text.encode("utf-8"))
            if tree.total_bytes > max_total_bytes:
                raise CrawlError(
                    CrawlErrorKind.TOO_LARGE,
                    f"repository text is over the {max_total_bytes}-byte limit of one warehouse document",
                )
    return tree


def repository_access(link: str, egress: EgressPolicy | None) -> list[str]:
    """The `git -c` options a clone of `link` runs with; raise `CrawlError(FORBIDDEN_ADDRESS)` if it may not run.

    Public internet only (the default, and without a policy): only `https://github.com/<owner>/<repo>`,
    cloned over https with the address the policy checked pinned, no redirects and no other protocol.
    With private networks allowed: any http(s) host (still checked and pinned), local paths and file:// URLs.
    """
    if egress is not None and egress.allow_private and (link.startswith("/") or link.lower().startswith("file:")):
        return []
    if not (egress is not None and egress.allow_private) and not GITHUB_REPOSITORY.match(link):
        raise CrawlError(
            CrawlErrorKind.FORBIDDEN_ADDRESS,
            f"only public GitHub repositories (https://github.com/<owner>/<repo>) are cloned, not {link!r}; set "
            "CRAWL_ALLOW_PRIVATE_NETWORKS=true for local or intranet repositories",
        )
    options = ["-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "-c", "http.followRedirects=false"]
    if link.lower().startswith("http://"):
        options += ["-c", "protocol.http.allow=always"]
    if egress is not None:
        target = egress.check_url(link)
        address = target.addresses[0]
        host = f"[{address}]" if address.version == 6 else str(address)
        # libcurl connects to the checked address, whatever DNS answers later.
        options += ["-c", f"http.curloptResolve={target.host}:{target.port}:{host}"]
    return options


def clone_repository(link: str, destination: Path, timeout_s: float, git_options: Sequence[str] = ()) -> None:
    """Shallow-clone `link` (URL, file:// URL or local path) into `destination`; raise `CrawlError` on failure.

    `git_options` (`-c name=value` pairs, from `repository_access`) restrict where git may connect.
    """
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}  # never wait for a password
    command = ["git", *git_options, "clone", "--depth", "1", "--quiet", "--", link, str(destination)]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, env=environment, check=False
        )
    except FileNotFoundError as error:
        raise CrawlError(CrawlErrorKind.CLONE_FAILED, "git is not installed (apt-get install git)") from error
    except subprocess.TimeoutExpired as error:
        raise CrawlError(CrawlErrorKind.TIMEOUT, f"git clone did not finish within {timeout_s:g}s") from error
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        detail = next((line for line in reversed(lines) if line.startswith("fatal:")), lines[-1] if lines else "")
        kind = CrawlErrorKind.DNS_FAILURE if "could not resolve host" in detail.lower() else CrawlErrorKind.CLONE_FAILED
        raise CrawlError(kind, f"git clone failed (exit {result.returncode}): {detail}")


class GithubCrawler(BaseCrawler):
    """Clones a repository and stores its text files intact (spaces and indentation kept).

    Vendored folders, lock files, binaries and files over the size limit are left out. The temporary
    checkout is always removed, and the process's working directory is never changed.
    """

    model = RepositoryDocument
    name = "github"

    def extract(self, link: str, user: UserDocument) -> int:
        limits = self.context.limits
        git_options = repository_access(link, self.context.egress)
        workdir = Path(tempfile.mkdtemp(prefix="llm-twin-clone-"))
        try:
            checkout = workdir / "repository"
            clone_repository(link, checkout, limits.clone_timeout_s, git_options)
            tree = collect_tree(checkout, limits.max_file_bytes, limits.max_repository_bytes)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if not tree.files:
            raise CrawlError(CrawlErrorKind.EMPTY_PAGE, "the repository has no text files to keep")
        logger.debug("{}: kept {} files ({} bytes), skipped {}", link, len(tree.files), tree.total_bytes, tree.skipped)
        document = RepositoryDocument(
            content=tree.files,
            name=repository_name(link),
            link=link,
            platform="github",
            author_id=user.id,
            author_full_name=user.full_name,
        )
        return self._save(document)
